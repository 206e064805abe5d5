/*
 * sl_timer.c: timers ordered by (expiry, insertion order), kept on FIFO lanes with a binary
 * min-heap as the fallback.
 *
 * Nearly every timer is one of a few configured timeouts (client_header_timeout,
 * keepalive_timeout, proxy_read_timeout, ...), re-armed several times per request.  Timers of
 * one duration added while the clock moves forward expire in the order they were added, so
 * each such duration gets a lane: a doubly linked list in insertion order, appended at the
 * tail and unlinked anywhere in O(1), whose head is its earliest timer.  The heap took
 * O(log n) per add and delete, with cache misses on its array, for an order the lanes give
 * for free.
 *
 * A timer goes to the heap instead when every lane serves another duration, or when it
 * would expire before its lane's tail (the clock went back; CLOCK_MONOTONIC does not, tests
 * do).  A lane that empties is released at once, so computed durations (rate-limit delays,
 * lingering remainders) hold a lane only while their timers are pending.  The next timer is
 * the earliest of the lane heads and the heap top, compared by (expiry, insertion order), so
 * the firing order is exactly the one a single heap gives.
 *
 * A re-arm that would move the expiry by less than SL_TIMER_LAZY_DELAY keeps the old one:
 * busy connections re-arm their timeout on every read, and the work is not worth a few ms of
 * precision.
 */
#include "sl_event.h"

#define SL_TIMER_LAZY_DELAY 300

/* A handful of configured timeouts are live at once; the scans below touch busy lanes only.
 * The bound is also what fits in sl_event_t's timer_lane and in lanes_busy. */
#define SL_TIMER_LANES 16
_Static_assert(SL_TIMER_LANES <= 31, "timer_lane is 5 bits and 0 means the heap");

typedef struct {
    /** the `timer` argument of sl_add_timer that every timer here was added with */
    sl_msec_t duration;
    /** sentinel of the timers in (expiry, insertion order) order: the head fires first */
    sl_queue_t timers;
} timer_lane_t;

static sl_event_t **heap;
static sl_uint_t heap_n;
static sl_uint_t heap_cap;
static uint64_t next_seq;

static timer_lane_t lanes[SL_TIMER_LANES];
/* Bit i set: lanes[i] holds timers.  A lane with none is free for any duration. */
static uint32_t lanes_busy;
static sl_uint_t lane_n;

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

/* Returns 0 when the heap cannot grow; the event is then on nothing. */
static int heap_add(sl_event_t *ev)
{
    if (!reserve()) {
        return 0;
    }
    ev->timer_lane = 0;
    heap[heap_n] = ev;
    heap_n++;
    sift_up(heap_n - 1);
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

static sl_event_t *lane_head(unsigned i)
{
    return sl_queue_data(sl_queue_head(&lanes[i].timers), sl_event_t, timer_link);
}

static sl_event_t *lane_tail(unsigned i)
{
    return sl_queue_data(sl_queue_last(&lanes[i].timers), sl_event_t, timer_link);
}

/* The busy lane serving `timer`, else a free lane, else SL_TIMER_LANES. */
static unsigned lane_find(sl_msec_t timer)
{
    for (uint32_t busy = lanes_busy; busy; busy &= busy - 1) {
        unsigned i = (unsigned) __builtin_ctz(busy);
        if (lanes[i].duration == timer) {
            return i;
        }
    }
    uint32_t free_lanes = ~lanes_busy & ((1u << SL_TIMER_LANES) - 1);
    return free_lanes ? (unsigned) __builtin_ctz(free_lanes) : SL_TIMER_LANES;
}

/*
 * Appends ev (timer_key and timer_seq set) to the lane of `timer`, claiming a free lane if
 * none serves it.  Returns 0, and touches nothing, when no lane is free or ev would expire
 * before the lane's tail: appending there would break the lane's order.
 */
static int lane_add(sl_event_t *ev, sl_msec_t timer)
{
    unsigned i = lane_find(timer);

    if (i == SL_TIMER_LANES) {
        return 0;
    }
    if (lanes_busy & (1u << i)) {
        if (ev->timer_key < lane_tail(i)->timer_key) {
            return 0;
        }
    } else {
        lanes[i].duration = timer;
        sl_queue_init(&lanes[i].timers);
        lanes_busy |= 1u << i;
    }
    sl_queue_insert_tail(&lanes[i].timers, &ev->timer_link);
    ev->timer_lane = i + 1;
    lane_n++;
    return 1;
}

static void lane_remove(sl_event_t *ev)
{
    unsigned i = ev->timer_lane - 1;

    sl_queue_remove(&ev->timer_link);
    lane_n--;
    if (sl_queue_empty(&lanes[i].timers)) {
        lanes_busy &= ~(1u << i);
    }
}

static void timer_remove(sl_event_t *ev)
{
    if (ev->timer_lane) {
        lane_remove(ev);
    } else {
        heap_remove(ev);
    }
    ev->timer_set = 0;
}

/* The timer that fires first, or NULL. */
static sl_event_t *timer_min(void)
{
    sl_event_t *min = heap_n ? heap[0] : NULL;

    for (uint32_t busy = lanes_busy; busy; busy &= busy - 1) {
        sl_event_t *ev = lane_head((unsigned) __builtin_ctz(busy));
        if (min == NULL || earlier(ev, min)) {
            min = ev;
        }
    }
    return min;
}

/* Some timer whose cancelable flag equals `cancelable`, or NULL. */
static sl_event_t *timer_find_cancelable(unsigned cancelable)
{
    for (sl_uint_t i = 0; i < heap_n; i++) {
        if (heap[i]->cancelable == cancelable) {
            return heap[i];
        }
    }
    for (uint32_t busy = lanes_busy; busy; busy &= busy - 1) {
        sl_queue_t *h = &lanes[__builtin_ctz(busy)].timers;
        for (sl_queue_t *q = sl_queue_head(h); q != sl_queue_sentinel(h); q = sl_queue_next(q)) {
            sl_event_t *ev = sl_queue_data(q, sl_event_t, timer_link);
            if (ev->cancelable == cancelable) {
                return ev;
            }
        }
    }
    return NULL;
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
    ev->timer_key = key;
    ev->timer_seq = next_seq++;
    if (!lane_add(ev, timer) && !heap_add(ev)) {
        /* Without a timer the wait would be unbounded: fire it at once instead. */
        sl_log_error(SL_LOG_ALERT, ev->log, errno, "timer heap allocation failed");
        ev->timedout = 1;
        sl_post_event(ev);
        return;
    }
    ev->timer_set = 1;
}

void sl_del_timer(sl_event_t *ev)
{
    if (!ev->timer_set) {
        return;
    }
    timer_remove(ev);
}

sl_msec_t sl_timer_find(void)
{
    sl_event_t *ev = timer_min();

    if (ev == NULL) {
        return (sl_msec_t) -1;
    }
    sl_msec_int_t left = (sl_msec_int_t) (ev->timer_key - sl_current_msec);
    return left > 0 ? (sl_msec_t) left : 0;
}

void sl_expire_timers(void)
{
    sl_event_t *ev;

    /* The minimum is taken afresh each time: handlers add and delete timers. */
    while ((ev = timer_min()) != NULL) {
        if ((sl_msec_int_t) (ev->timer_key - sl_current_msec) > 0) {
            return;
        }
        timer_remove(ev);
        ev->timedout = 1;
        ev->handler(ev);
    }
}

sl_uint_t sl_timer_count(void)
{
    return heap_n + lane_n;
}

int sl_timers_only_cancelable(void)
{
    return timer_find_cancelable(0) == NULL;
}

void sl_cancel_timers(void)
{
    sl_event_t *ev;

    /* Handlers may add or delete timers, so search from the start after each one. */
    while ((ev = timer_find_cancelable(1)) != NULL) {
        timer_remove(ev);
        ev->handler(ev);
    }
}

void sl__timers_free(void)
{
    free(heap);
    heap = NULL;
    heap_n = 0;
    heap_cap = 0;
    lanes_busy = 0;
    lane_n = 0;
}
