/* The counter registry and its Prometheus text; see metrics.h. Readers walk
 * the list under m->lock; the counters themselves are only ever read with
 * relaxed atomic loads, so a vCPU bumping one never waits for a reader. */
#include "base/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void metrics_destroy(struct metrics *m)
{
	while (m->head)
		metrics_unregister(m, m->head);
	pthread_mutex_destroy(&m->lock);
}

/* value into out (size bytes) with the text format's escapes (\\, \", \n);
 * returns the length written, cut to fit. */
static size_t metrics_escape(char *out, size_t size, const char *value)
{
	size_t n = 0;

	for (const char *p = value; *p && n + 3 < size; p++) {
		if (*p == '\\' || *p == '"') {
			out[n++] = '\\';
			out[n++] = *p;
		} else if (*p == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return n;
}

void metrics_set_vm(struct metrics *m, const char *id)
{
	pthread_mutex_lock(&m->lock);
	metrics_escape(m->vm, sizeof(m->vm), id ? id : "");
	pthread_mutex_unlock(&m->lock);
}

void metrics_register(struct metrics *m, struct metrics_group *g, const struct metric_desc *desc,
		      unsigned n, uint64_t *val, const char *fc_key, ...)
{
	size_t used = 0, size = sizeof(g->labels);
	const char *name;
	va_list ap;

	memset(g, 0, sizeof(*g));
	g->desc = desc;
	g->n = n;
	g->val = val;
	snprintf(g->fc_key, sizeof(g->fc_key), "%s", fc_key ? fc_key : "");
	va_start(ap, fc_key);
	while ((name = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);
		int w = snprintf(g->labels + used, size - used, "%s%s=\"", used ? "," : "", name);

		if (w < 0 || (size_t)w + 2 >= size - used)
			break;
		used += (size_t)w;
		used += metrics_escape(g->labels + used, size - used - 1, value ? value : "");
		g->labels[used++] = '"';
		g->labels[used] = '\0';
	}
	va_end(ap);
	pthread_mutex_lock(&m->lock);
	if (m->tail)
		m->tail->next = g;
	else
		m->head = g;
	m->tail = g;
	pthread_mutex_unlock(&m->lock);
}

void metrics_unregister(struct metrics *m, struct metrics_group *g)
{
	struct metrics_group **pp, *prev = NULL;

	pthread_mutex_lock(&m->lock);
	for (pp = &m->head; *pp && *pp != g; pp = &(*pp)->next)
		prev = *pp;
	if (*pp) {
		*pp = g->next;
		if (m->tail == g)
			m->tail = prev;
		free(g->last);
		g->last = g->delta = NULL;
		g->next = NULL;
	}
	pthread_mutex_unlock(&m->lock);
}

int metrics_take_deltas(struct metrics *m)
{
	struct metrics_group *g;
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	/* room first, so that a failure takes nothing */
	for (g = m->head; g && !ret; g = g->next)
		if (!g->last && g->n) {
			g->last = calloc(2 * (size_t)g->n, sizeof(uint64_t));
			if (!g->last)
				ret = -ENOMEM;
			else
				g->delta = g->last + g->n;
		}
	for (g = m->head; g && !ret; g = g->next)
		for (unsigned i = 0; i < g->n; i++) {
			uint64_t v = metrics_read(&g->val[i]);

			g->delta[i] = v - g->last[i];
			g->last[i] = v;
		}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/* Is field one of the comma-separated list? */
static bool metrics_feeds(const char *list, const char *field)
{
	size_t len = strlen(field);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == len && !memcmp(p, field, len))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

uint64_t metrics_fc_delta(struct metrics *m, const char *field, const char *key)
{
	uint64_t sum = 0;

	pthread_mutex_lock(&m->lock);
	for (const struct metrics_group *g = m->head; g; g = g->next) {
		if (!g->delta || (key && strcmp(g->fc_key, key)))
			continue;
		for (unsigned i = 0; i < g->n; i++)
			if (metrics_feeds(g->desc[i].fc, field))
				sum += g->delta[i];
	}
	pthread_mutex_unlock(&m->lock);
	return sum;
}

unsigned metrics_fc_keys(struct metrics *m, const char *prefix, char (*keys)[METRICS_FC_KEY_MAX],
			 unsigned max)
{
	size_t plen = strlen(prefix);
	unsigned n = 0;

	pthread_mutex_lock(&m->lock);
	for (const struct metrics_group *g = m->head; g && n < max; g = g->next) {
		unsigned at = 0;

		if (strncmp(g->fc_key, prefix, plen))
			continue;
		while (at < n && strcmp(keys[at], g->fc_key) < 0)
			at++;
		if (at < n && !strcmp(keys[at], g->fc_key))
			continue;
		memmove(keys[at + 1], keys[at], (n - at) * sizeof(keys[0]));
		memcpy(keys[at], g->fc_key, sizeof(keys[0]));
		n++;
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* --- Prometheus text ----------------------------------------------------- */

struct metrics_sample {
	const struct metrics_group *g;
	unsigned i;
	size_t order;      /* registration order: families keep it, and so do their samples */
};

static int metrics_sample_cmp(const void *a, const void *b)
{
	const struct metrics_sample *x = a, *y = b;
	int c = strcmp(x->g->desc[x->i].name, y->g->desc[y->i].name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts s[0..n) by metrics_sample_cmp, with t (n entries) for scratch. Not
 * qsort: glibc's asks the kernel for the machine's memory (sysinfo) the
 * first time it sorts more than 1 KiB, a call the vmm thread's seccomp
 * list, under which the metrics are written, does not need otherwise. */
static void metrics_sort(struct metrics_sample *s, struct metrics_sample *t, size_t n)
{
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, k = lo;

			while (a < mid && b < hi)
				t[k++] = metrics_sample_cmp(&s[b], &s[a]) < 0 ? s[b++] : s[a++];
			while (a < mid)
				t[k++] = s[a++];
			while (b < hi)
				t[k++] = s[b++];
		}
		memcpy(s, t, n * sizeof(*s));
	}
}

/* One sample line: the name, the labels (vm, the group's, the counter's),
 * the value. */
static void metrics_sample_line(FILE *f, const struct metrics *m, const struct metrics_sample *s)
{
	const struct metric_desc *d = &s->g->desc[s->i];
	const char *labels[3] = { m->vm, s->g->labels, d->labels ? d->labels : "" };
	char sep = '{';

	fprintf(f, "vireo_%s", d->name);
	for (unsigned k = 0; k < 3; k++) {
		if (!labels[k][0])
			continue;
		fprintf(f, k ? "%c%s" : "%cvm=\"%s\"", sep, labels[k]);
		sep = ',';
	}
	fprintf(f, "%s %llu\n", sep == ',' ? "}" : "",
		(unsigned long long)metrics_read(&s->g->val[s->i]));
}

int metrics_prometheus(struct metrics *m, char **text, size_t *len)
{
	struct metrics_sample *s = NULL;
	size_t n = 0, cap = 0;
	FILE *f;
	int ret = 0;

	*text = NULL;
	*len = 0;
	f = open_memstream(text, len);
	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	for (const struct metrics_group *g = m->head; g; g = g->next)
		cap += g->n;
	s = cap ? calloc(2 * cap, sizeof(*s)) : NULL; /* the upper half: the sort's scratch */
	if (cap && !s) {
		ret = -ENOMEM;
		goto out;
	}
	for (const struct metrics_group *g = m->head; g; g = g->next)
		for (unsigned i = 0; i < g->n; i++, n++)
			s[n] = (struct metrics_sample){ g, i, n };
	/* a family's samples must be together, whichever groups they are in */
	if (n)
		metrics_sort(s, s + cap, n);
	for (size_t k = 0; k < n; k++) {
		const struct metric_desc *d = &s[k].g->desc[s[k].i];

		if (!k || strcmp(d->name, s[k - 1].g->desc[s[k - 1].i].name))
			fprintf(f, "# HELP vireo_%s %s\n# TYPE vireo_%s counter\n", d->name, d->help,
				d->name);
		metrics_sample_line(f, m, &s[k]);
	}
out:
	pthread_mutex_unlock(&m->lock);
	free(s);
	if (ferror(f))
		ret = -ENOMEM;
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		free(*text);
		*text = NULL;
		*len = 0;
	}
	return ret;
}
