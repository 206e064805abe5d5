/*
 * sl_timer.c: timers on a binary min-heap of events, ordered by (expiry, insertion order).
 * Add and delete are O(log n); each event remembers its slot.  A re-arm that would move the
 * expiry by less than SL_TIMER_LAZY_DELAY keeps the old one: busy connections re-arm their
 * timeout on every read, and the heap work is not worth a few ms of precision.
 */
#include "sl_event.h"

#define SL_TIMER_LAZY_DELAY 300

static sl_event_t **heap;
static sl_uint_t heap_n;
static sl_uint_t heap_cap;
static uint64_t next_seq;

static int earlier(const sl_event_t *a, const sl_event_t *b)
{
    if (a->timer_key != b->timer_key) {
        return a->timer_key < b->timer_key;
    }
    return a->timer_seq < b->timer_seq;
}

static void place(sl_uint_t i, sl_event_t *ev)
{
    heap[i] = ev;
    ev->timer_index = i;
}

static void sift_up(sl_uint_t i)
{
    sl_event_t *ev = heap[i];

    while (i > 0) {
        sl_uint_t parent = (i - 1) / 2;
        if (!earlier(ev, heap[parent])) {
            break;
        }
        place(i, heap[parent]);
        i = parent;
    }
    place(i, ev);
}

static void sift_down(sl_uint_t i)
{
    sl_event_t *ev = heap[i];

    for (;;) {
        sl_uint_t child = 2 * i + 1;
        if (child >= heap_n) {
            break;
        }
        if (child + 1 < heap_n && earlier(heap[child + 1], heap[child])) {
            child++;
        }
        if (!earlier(heap[child], ev)) {
            break;
        }
        place(i, heap[child]);
        i = child;
    }
    place(i, ev);
}

/* The heap grows by doubling and never shrinks: its size follows the peak number of
 * timers, which worker_connections bounds. */
static int reserve(void)
{
    if (heap_n < heap_cap) {
        return 1;
    }
    sl_uint_t cap = heap_cap ? heap_cap * 2 : 1024;
    sl_event_t **h = realloc(heap, cap * sizeof(sl_event_t *));
    if (h == NULL) {
        return 0;
    }
    heap = h;
    heap_cap = cap;
    return 1;
}

static void heap_remove(sl_event_t *ev)
{
    sl_uint_t i = ev->timer_index;
    sl_event_t *last = heap[--heap_n];

    if (i == heap_n) {
        return;
    }
    place(i, last);
    if (i > 0 && earlier(last, heap[(i - 1) / 2])) {
        sift_up(i);
    } else {
        sift_down(i);
    }
}

void sl_add_timer(sl_event_t *ev, sl_msec_t timer)
{
    sl_msec_t key = sl_current_msec + timer;

    if (ev->timer_set) {
        sl_msec_int_t diff = (sl_msec_int_t) (key - ev->timer_key);
        if (diff > -SL_TIMER_LAZY_DELAY && diff < SL_TIMER_LAZY_DELAY) {
            return;
        }
        sl_del_timer(ev);
    }
    if (!reserve()) {
        /* Without a timer the wait would be unbounded: fire it at once instead. */
        sl_log_error(SL_LOG_ALERT, ev->log, errno, "timer heap allocation failed");
        ev->timedout = 1;
        sl_post_event(ev);
        return;
    }
    ev->timer_key = key;
    ev->timer_seq = next_seq++;
    ev->timer_set = 1;
    heap[heap_n] = ev;
    heap_n++;
    sift_up(heap_n - 1);
}

void sl_del_timer(sl_event_t *ev)
{
    if (!ev->timer_set) {
        return;
    }
    heap_remove(ev);
    ev->timer_set = 0;
}

sl_msec_t sl_timer_find(void)
{
    if (heap_n == 0) {
        return (sl_msec_t) -1;
    }
    sl_msec_int_t left = (sl_msec_int_t) (heap[0]->timer_key - sl_current_msec);
    return left > 0 ? (sl_msec_t) left : 0;
}

void sl_expire_timers(void)
{
    while (heap_n) {
        sl_event_t *ev = heap[0];

        if ((sl_msec_int_t) (ev->timer_key - sl_current_msec) > 0) {
            return;
        }
        heap_remove(ev);
        ev->timer_set = 0;
        ev->timedout = 1;
        ev->handler(ev);
    }
}

sl_uint_t sl_timer_count(void)
{
    return heap_n;
}

int sl_timers_only_cancelable(void)
{
    for (sl_uint_t i = 0; i < heap_n; i++) {
        if (!heap[i]->cancelable) {
            return 0;
        }
    }
    return 1;
}

void sl_cancel_timers(void)
{
    sl_uint_t i = 0;

    /* Handlers may add or delete timers, so restart the scan after each one. */
    while (i < heap_n) {
        sl_event_t *ev = heap[i];
        if (!ev->cancelable) {
            i++;
            continue;
        }
        heap_remove(ev);
        ev->timer_set = 0;
        ev->handler(ev);
        i = 0;
    }
}

void sl__timers_free(void)
{
    free(heap);
    heap = NULL;
    heap_n = 0;
    heap_cap = 0;
}
