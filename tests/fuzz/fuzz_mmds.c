/* libFuzzer target: the MMDS's frame path (vmm/mmds_net.c, and through it
 * mmds_http.c, mmds_store.c and mmds_token.c) as a hostile guest drives
 * it. The input is a run of records, each a frame the guest sends with a
 * control byte that may have the harness repair the frame's IPv4 and TCP
 * checksums, aim its sequence and acknowledgment numbers at what the MMDS
 * last sent (so that the fuzzer gets past the handshake into HTTP), take
 * the frames waiting for the guest, or move the clock. Every frame the
 * MMDS queues must be well-formed (its lengths, its checksums, its MAC)
 * and within the bounds (queue, connections); ASan and UBSan watch the
 * rest. The bytes after the first record are also given to
 * mmds_http_respond as one request. Built with -DFUZZ_GEN_SEEDS it writes
 * a few conversations as seeds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/inet.h"
#include "vmm/mmds_http.h"
#include "vmm/mmds_net.h"
#include "vmm/mmds_store.h"
#include "vmm/mmds_token.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz check failed: %s (line %d)\n", #c, \
					   __LINE__); abort(); } } while (0)

#define FZ_IP 0xa9fea9feu
/* control byte */
#define FZ_FIX_CSUM 0x01     /* recompute the IPv4 and TCP checksums */
#define FZ_PARTIAL 0x02      /* MMDS_IN_CSUM_PARTIAL */
#define FZ_GSO 0x04          /* MMDS_IN_GSO */
#define FZ_TRACK 0x08        /* seq/ack: what the MMDS last sent (and its port) */
#define FZ_DRAIN 0x10        /* take every frame queued for the guest first */
#define FZ_TICK 0x20         /* the clock moves 10 s first */
#define FZ_V2 0x40           /* (first record only) V2 */
#define FZ_IMDS 0x80         /* (first record only) imds_compat */

#define DOC "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"list\":[1,\"a\"]}}}"

/* What the MMDS last sent on TCP: for FZ_TRACK. */
static struct {
	uint16_t port;
	uint32_t next_seq, ack;
} fz_last;

/* Takes every queued frame, checking each. */
static void fz_drain(struct mmds_net *m)
{
	static const uint8_t mac[6] = MMDS_MAC;
	const uint8_t *f;
	size_t len;

	CHECK(mmds_net_pending(m) <= MMDS_QUEUE_FRAMES);
	CHECK(mmds_net_conns(m) <= MMDS_MAX_CONNS);
	while ((f = mmds_net_peek(m, &len))) {
		CHECK(len >= 42 && len <= MMDS_FRAME_MAX);
		CHECK(!memcmp(f + 6, mac, 6));
		if (inet_rd16(f + 12) == 0x0800) {
			const uint8_t *ip = f + 14, *t = ip + 20;
			size_t tot = inet_rd16(ip + 2), thl;

			CHECK(tot == len - 14 && tot >= 40);
			CHECK(inet_csum(ip, 20) == 0);
			CHECK(inet_rd32(ip + 12) == FZ_IP);
			CHECK(inet_tcp_csum(FZ_IP, inet_rd32(ip + 16), t, tot - 20) == 0);
			thl = (size_t)(t[12] >> 4) * 4;
			CHECK(thl >= 20 && thl <= tot - 20);
			if (!(t[13] & 0x04)) {
				fz_last.port = inet_rd16(t + 2);
				fz_last.next_seq = inet_rd32(t + 4) + (uint32_t)(tot - 20 - thl) +
						   !!(t[13] & 0x02) + !!(t[13] & 0x01);
				fz_last.ack = inet_rd32(t + 8);
			}
		} else {
			CHECK(inet_rd16(f + 12) == 0x0806 && len == 42);
		}
		mmds_net_pop(m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mmds_store *store;
	static struct mmds_tokens tokens;
	struct mmds_service svc;
	struct mmds_net *m;
	uint64_t now = 1000000;
	size_t off = 0;
	struct errbuf e;
	bool first = true;

	if (!store) {
		if (mmds_store_create(&store, MMDS_STORE_DEFAULT_LIMIT) ||
		    mmds_store_put(store, DOC, strlen(DOC), &e) || mmds_token_init(&tokens))
			abort();
	}
	svc = (struct mmds_service){ .store = store, .tokens = &tokens };
	if (size && (data[0] & FZ_V2))
		svc.v2 = true;
	if (size && (data[0] & FZ_IMDS))
		svc.imds_compat = true;
	if (mmds_net_create(&m, FZ_IP, &svc))
		abort();
	memset(&fz_last, 0, sizeof(fz_last));
	/* records: [ctl][len hi][len lo][len bytes] */
	while (off + 3 <= size) {
		uint8_t ctl = data[off], fr[2048];
		size_t len = inet_rd16(data + off + 1);
		unsigned flags = 0;

		off += 3;
		if (len > size - off)
			len = size - off;
		if (len > sizeof(fr))
			len = sizeof(fr);
		memcpy(fr, data + off, len);
		off += len;
		if (ctl & FZ_TICK)
			now += 10000;
		if (ctl & FZ_DRAIN)
			fz_drain(m);
		/* an IPv4 frame's fields the harness may aim */
		if (len >= 34 && inet_rd16(fr + 12) == 0x0800) {
			uint8_t *ip = fr + 14;
			size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = inet_rd16(ip + 2);

			if ((ctl & FZ_TRACK) && ihl >= 20 && 14 + ihl + 20 <= len) {
				uint8_t *t = ip + ihl;

				inet_wr32(ip + 16, FZ_IP);
				inet_wr16(t + 2, 80);
				if (fz_last.port)
					inet_wr16(t, fz_last.port);
				inet_wr32(t + 4, fz_last.ack);
				inet_wr32(t + 8, fz_last.next_seq);
			}
			if ((ctl & FZ_FIX_CSUM) && ihl >= 20 && tot >= ihl && 14 + tot <= len) {
				inet_wr16(ip + 10, 0);
				inet_wr16(ip + 10, inet_csum(ip, ihl));
				if (ip[9] == 6 && tot - ihl >= 20) {
					uint8_t *t = ip + ihl;

					inet_wr16(t + 16, 0);
					inet_wr16(t + 16, inet_tcp_csum(inet_rd32(ip + 12), inet_rd32(ip + 16), t, tot - ihl));
				}
			}
		}
		if (ctl & FZ_PARTIAL)
			flags |= MMDS_IN_CSUM_PARTIAL;
		if (ctl & FZ_GSO)
			flags |= MMDS_IN_GSO;
		if (mmds_net_wants(m, fr, len)) {
			mmds_net_input(m, fr, len, flags, now);
			CHECK(mmds_net_pending(m) <= MMDS_QUEUE_FRAMES);
			CHECK(mmds_net_conns(m) <= MMDS_MAX_CONNS);
		}
		/* what the guest has not taken may pile up to the bound only */
		if (mmds_net_pending(m) == MMDS_QUEUE_FRAMES || first)
			fz_drain(m);
		first = false;
	}
	fz_drain(m);
	mmds_net_destroy(m);

	/* the same bytes as one HTTP request */
	if (size > 3) {
		char *out = NULL;
		size_t out_len = 0;

		if (!mmds_http_respond(&svc, (const char *)data + 3, size - 3, now, &out, &out_len) &&
		    out) {
			CHECK(out_len > 12 && !memcmp(out, "HTTP/1.", 7));
			free(out);
		}
	}
	return 0;
}

#ifdef FUZZ_GEN_SEEDS
#include "fuzz_seeds.h"

/* A guest's TCP frame to the MMDS (checksums fixed by the harness). */
static size_t seed_frame(uint8_t *f, uint8_t flags, const char *data)
{
	static const uint8_t guest[6] = { 0x06, 0, 0xac, 0x10, 0, 2 };
	static const uint8_t mmds[6] = MMDS_MAC;
	size_t dlen = data ? strlen(data) : 0;
	uint8_t *ip = f + 14, *t = ip + 20;

	memset(f, 0, 54 + dlen);
	memcpy(f, mmds, 6);
	memcpy(f + 6, guest, 6);
	inet_wr16(f + 12, 0x0800);
	ip[0] = 0x45;
	inet_wr16(ip + 2, (uint16_t)(40 + dlen));
	ip[8] = 64;
	ip[9] = 6;
	inet_wr32(ip + 12, 0x0a000002);
	inet_wr32(ip + 16, FZ_IP);
	inet_wr16(t, 40000);
	inet_wr16(t + 2, 80);
	inet_wr32(t + 4, 100);
	t[12] = 0x50;
	t[13] = flags;
	inet_wr16(t + 14, 65535);
	if (dlen)
		memcpy(t + 20, data, dlen);
	return 54 + dlen;
}

static size_t seed_record(uint8_t *out, uint8_t ctl, uint8_t flags, const char *data)
{
	size_t len = seed_frame(out + 3, flags, data);

	out[0] = ctl;
	inet_wr16(out + 1, (uint16_t)len);
	return 3 + len;
}

int main(int argc, char **argv)
{
	static const char *const reqs[] = {
		"GET /latest/meta-data/ami-id HTTP/1.1\r\nAccept: application/json\r\n\r\n",
		"GET /latest/meta-data/ HTTP/1.1\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n",
		"GET /latest HTTP/1.1\r\nX-metadata-token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
	};
	uint8_t buf[4096];
	int err = 0;

	if (argc < 2)
		return 1;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		size_t n = 0;
		struct fuzz_part p;
		uint8_t v = i >= 2 ? FZ_V2 : 0;

		n += seed_record(buf + n, FZ_FIX_CSUM | v, 0x02, NULL);              /* SYN */
		n += seed_record(buf + n, FZ_FIX_CSUM | FZ_TRACK | FZ_DRAIN, 0x10, NULL);
		n += seed_record(buf + n, FZ_FIX_CSUM | FZ_TRACK, 0x18, reqs[i]);
		n += seed_record(buf + n, FZ_FIX_CSUM | FZ_TRACK | FZ_DRAIN, 0x10, NULL);
		n += seed_record(buf + n, FZ_FIX_CSUM | FZ_TRACK | FZ_DRAIN, 0x11, NULL);
		p = (struct fuzz_part){ buf, n };
		err |= fuzz_write_seed(argv[1], i, &p, 1);
	}
	/* an ARP request */
	{
		uint8_t a[45] = { 0, 0, 42 };
		struct fuzz_part p = { a, sizeof(a) };

		memset(a + 3, 0xff, 6);
		a[3 + 6] = 0x06;
		inet_wr16(a + 3 + 12, 0x0806);
		inet_wr16(a + 3 + 14, 1);
		inet_wr16(a + 3 + 16, 0x0800);
		a[3 + 18] = 6;
		a[3 + 19] = 4;
		inet_wr16(a + 3 + 20, 1);
		a[3 + 22] = 0x06;
		inet_wr32(a + 3 + 28, 0x0a000002);
		inet_wr32(a + 3 + 38, FZ_IP);
		err |= fuzz_write_seed(argv[1], 4, &p, 1);
	}
	return err;
}
#endif
