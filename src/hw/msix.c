/* MSI-X table, PBA and delivery; see msix.h. */
#include "hw/msix.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/snap.h"

#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_VECTOR_MASKED 1u

int msix_init(struct msix *m, struct pci_dev *d, unsigned nr, unsigned bar, uint32_t table_off,
	      uint32_t pba_off, struct irq_router *router)
{
	unsigned cap;
	int ret;

	memset(m, 0, sizeof(*m));
	for (unsigned v = 0; v < MSIX_MAX_VECTORS; v++)
		m->irqfd[v] = -1;
	if (nr == 0 || nr > MSIX_MAX_VECTORS)
		return -EINVAL;
	cap = pci_cap_add(d, PCI_CAP_ID_MSIX, 12);
	if (!cap)
		return -ENOSPC;
	pthread_mutex_init(&m->lock, NULL);
	m->pci = d;
	m->router = router;
	m->nr = nr;
	m->cap = cap;
	/* Message Control: table size - 1; enable and function mask writable */
	d->cfg[cap + 2] = (nr - 1) & 0xff;
	d->cfg[cap + 3] = ((nr - 1) >> 8) & 0x07;
	d->wmask[cap + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
	memcpy(d->cfg + cap + 4, &(uint32_t){ table_off | bar }, 4);
	memcpy(d->cfg + cap + 8, &(uint32_t){ pba_off | bar }, 4);
	for (unsigned v = 0; v < nr; v++) {
		m->table[v].ctrl = MSIX_VECTOR_MASKED; /* masked at reset */
		ret = irq_msi_alloc(router, &m->gsi[v]);
		if (ret)
			goto err;
		m->irqfd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->irqfd[v] < 0) {
			ret = -errno;
			goto err;
		}
		if (router->vm_fd >= 0) {
			ret = irq_irqfd(router->vm_fd, m->gsi[v], m->irqfd[v], true);
			if (ret)
				goto err;
		}
	}
	return 0;
err:
	msix_destroy(m);
	return ret;
}

void msix_destroy(struct msix *m)
{
	for (unsigned v = 0; v < MSIX_MAX_VECTORS; v++) {
		if (m->irqfd[v] < 0)
			continue;
		if (m->router && m->router->vm_fd >= 0)
			irq_irqfd(m->router->vm_fd, m->gsi[v], m->irqfd[v], false);
		close(m->irqfd[v]);
		m->irqfd[v] = -1;
	}
}

static bool msix_masked(const struct msix *m, unsigned v)
{
	return !m->enabled || m->func_masked || !m->bus_master ||
	       (m->table[v].ctrl & MSIX_VECTOR_MASKED);
}

/* m->lock held. */
static void msix_fire(struct msix *m, unsigned v)
{
	uint64_t one = 1;

	if (!m->routed[v]) {
		const struct msix_entry *e = &m->table[v];

		if (irq_msi_route(m->router, m->gsi[v], (uint64_t)e->addr_hi << 32 | e->addr_lo,
				  e->data))
			return;
		m->routed[v] = true;
	}
	if (write(m->irqfd[v], &one, sizeof(one)) < 0)
		return; /* the counter is saturated: an interrupt is pending anyway */
}

/* Fires what became deliverable (unmask of a pending vector). m->lock held. */
static void msix_deliver_pending(struct msix *m)
{
	for (unsigned v = 0; v < m->nr; v++) {
		if ((m->pending & (1ull << v)) && !msix_masked(m, v)) {
			m->pending &= ~(1ull << v);
			msix_fire(m, v);
		}
	}
}

void msix_set_bus_master(struct msix *m, bool on)
{
	pthread_mutex_lock(&m->lock);
	m->bus_master = on;
	msix_deliver_pending(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_notify(struct msix *m, unsigned v)
{
	if (v >= m->nr)
		return;
	pthread_mutex_lock(&m->lock);
	if (msix_masked(m, v))
		m->pending |= 1ull << v;
	else
		msix_fire(m, v);
	pthread_mutex_unlock(&m->lock);
}

void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	unsigned v = off / MSIX_ENTRY_SIZE, word = (off % MSIX_ENTRY_SIZE) / 4;
	uint32_t *w;

	/* GUEST: only aligned dword and qword accesses inside the table count */
	if (v >= m->nr || (len != 4 && len != 8) || (off & (len - 1))) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	w = &m->table[v].addr_lo + word;
	if (!is_write) {
		memcpy(data, w, len);
	} else {
		memcpy(w, data, len);
		m->table[v].ctrl &= MSIX_VECTOR_MASKED; /* other bits reserved */
		m->routed[v] = false; /* re-route lazily on the next delivery */
		msix_deliver_pending(m);
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint64_t pba;

	if (is_write || off >= 8 || len > 8 - off) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	pba = m->pending;
	pthread_mutex_unlock(&m->lock);
	memcpy(data, (uint8_t *)&pba + off, len);
}

void msix_cfg_written(struct msix *m, uint32_t off, uint32_t len)
{
	uint16_t ctrl;

	if (off + len <= m->cap + 2 || off >= m->cap + 4)
		return;
	ctrl = m->pci->cfg[m->cap + 2] | m->pci->cfg[m->cap + 3] << 8;
	pthread_mutex_lock(&m->lock);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->func_masked = ctrl & MSIX_CTRL_MASKALL;
	msix_deliver_pending(m);
	pthread_mutex_unlock(&m->lock);
}

/* --- snapshots ------------------------------------------------------------ */

struct msix_state {
	uint32_t nr, pad;
	uint64_t pending;
	struct msix_entry table[MSIX_MAX_VECTORS];
};

void msix_save(struct msix *m, const char *name, struct snap_writer *w)
{
	struct msix_state st;

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&m->lock);
	st.nr = m->nr;
	st.pending = m->pending;
	memcpy(st.table, m->table, sizeof(st.table));
	pthread_mutex_unlock(&m->lock);
	snap_putf(w, 1, &st, sizeof(st), "%s/msix", name);
}

int msix_restore(struct msix *m, const char *name, const struct snap_reader *r,
		 struct errbuf *e)
{
	char rec[SNAP_NAME_MAX + 1];
	struct msix_state st;
	int ret;

	snprintf(rec, sizeof(rec), "%s/msix", name);
	ret = snap_get(r, rec, 1, &st, sizeof(st), e);
	if (ret)
		return ret;
	if (st.nr != m->nr)
		return errf(e, -EINVAL, "%s: %u MSI-X vectors saved, %u built", name, st.nr, m->nr);
	pthread_mutex_lock(&m->lock);
	for (unsigned v = 0; v < m->nr; v++) {
		m->table[v] = st.table[v];
		m->table[v].ctrl &= MSIX_VECTOR_MASKED;
		m->routed[v] = false;
	}
	m->pending = st.pending & (m->nr < 64 ? (1ull << m->nr) - 1 : ~0ull);
	pthread_mutex_unlock(&m->lock);
	return 0;
}
