/**
 * The timer queue: parked sleepers ordered by deadline.
 *
 * A binary min-heap keyed by (deadline, sequence number), so equal
 * deadlines wake in the order they were set. A parked sleeper costs no
 * steps: the worker only looks at the top of the heap.
 *
 * Why cancellation is lazy: a cancelled sleeper's entry is not dug out of
 * the heap (that is O(n) to find); it is marked dead by clearing its
 * `owner` and dropped when it reaches the top. So that a program which
 * cancels many long sleeps does not hold their entries forever, the heap is
 * rebuilt without the dead ones once they outnumber the live ones.
 */

/**
 * One timer. `owner` is null once the timer is cancelled or has fired;
 * `fire(owner)` is called when it is due (a sleep wakes its task, a select
 * commits to its timeout case, a ticker ticks).
 */
export interface TimerEntry<T> {
  readonly deadline: number;
  seq: number;
  owner: T | null;
  fire(owner: T): void;
}

export class TimerQueue<T> {
  /** The heap, by (deadline, seq). Holds live and dead entries. */
  #heap: TimerEntry<T>[] = [];
  /** Entries whose owner is set. */
  #live = 0;
  /** The sequence number the next timer gets: from 1 (a sleep takes seq <= 0 as never queued). */
  #seq = 1;

  /** Number of live timers. */
  get size(): number {
    return this.#live;
  }

  add(entry: TimerEntry<T>): void {
    entry.seq = this.#seq++;
    const heap = this.#heap;
    heap.push(entry);
    this.#up(heap.length - 1);
    this.#live++;
  }

  /** Marks a timer dead; it will be dropped when it reaches the top. */
  cancel(entry: TimerEntry<T>): void {
    if (entry.owner === null) return;
    entry.owner = null;
    this.#live--;
    if (this.#heap.length > 64 && this.#heap.length - this.#live > this.#live) this.#compact();
  }

  /** The earliest live deadline, or Infinity when there is none. */
  nextDeadline(): number {
    this.#dropDead();
    return this.#heap[0]?.deadline ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Fires every live timer whose deadline is at or before `now`, earliest
   * first (equal deadlines in the order they were set); each is marked
   * fired before its `fire` runs, which may add or cancel timers.
   */
  expire(now: number): void {
    for (;;) {
      this.#dropDead();
      const top = this.#heap[0];
      if (top === undefined || top.deadline > now) return;
      this.#pop();
      const owner = top.owner as T;
      top.owner = null;
      this.#live--;
      top.fire(owner);
    }
  }

  #dropDead(): void {
    const heap = this.#heap;
    while (heap.length > 0 && (heap[0] as TimerEntry<T>).owner === null) this.#pop();
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop() as TimerEntry<T>;
    if (heap.length > 0) {
      heap[0] = last;
      this.#down(0);
    }
  }

  #compact(): void {
    this.#heap = this.#heap.filter((e) => e.owner !== null);
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #up(index: number): void {
    const heap = this.#heap;
    const entry = heap[index] as TimerEntry<T>;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as TimerEntry<T>;
      if (compare(parent, entry) <= 0) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = entry;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const entry = heap[index] as TimerEntry<T>;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      const right = child + 1;
      if (
        right < length &&
        compare(heap[right] as TimerEntry<T>, heap[child] as TimerEntry<T>) < 0
      ) {
        child = right;
      }
      if (compare(heap[child] as TimerEntry<T>, entry) >= 0) break;
      heap[index] = heap[child] as TimerEntry<T>;
      index = child;
    }
    heap[index] = entry;
  }
}

function compare<T>(a: TimerEntry<T>, b: TimerEntry<T>): number {
  return a.deadline - b.deadline || a.seq - b.seq;
}
