/**
 * Ring: a first-in first-out queue, for the run queue and for the values
 * and waiters of channels and semaphores.
 *
 * A ring buffer over a power-of-two array: `push` at the tail and `shift`
 * at the head are O(1) with no allocation in the steady state (an array's
 * own `shift()` moves every element once the array is large).
 */
/** The slots of every ring that never held an item: made on the first push (a Future or a channel queue that nobody waits on costs no array). */
const NO_SLOTS: never[] = [];

export class Ring<T> {
  /** Slots; `undefined` where empty. Length is a power of two (or 0 before the first push). */
  #items: (T | undefined)[] = NO_SLOTS;
  /** Index of the first item. */
  #head = 0;
  /** Number of items. */
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    const items = this.#items;
    if (this.#size === items.length) {
      this.#grow();
      this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item;
    } else {
      items[(this.#head + this.#size) & (items.length - 1)] = item;
    }
    this.#size++;
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const items = this.#items;
    const item = items[this.#head];
    items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (items.length - 1);
    this.#size--;
    return item;
  }

  /** Empties it in place (the slots are kept). */
  clear(): void {
    const items = this.#items;
    const mask = items.length - 1;
    for (let i = 0; i < this.#size; i++) items[(this.#head + i) & mask] = undefined;
    this.#head = 0;
    this.#size = 0;
  }

  /** Removes one item (O(n)); used only off the hot path. */
  remove(item: T): boolean {
    const items = this.#items;
    const mask = items.length - 1;
    for (let i = 0; i < this.#size; i++) {
      if (items[(this.#head + i) & mask] !== item) continue;
      for (let j = i; j < this.#size - 1; j++) {
        items[(this.#head + j) & mask] = items[(this.#head + j + 1) & mask];
      }
      items[(this.#head + this.#size - 1) & mask] = undefined;
      this.#size--;
      return true;
    }
    return false;
  }

  /** Takes out the item at `index` (0 = the first), closing the gap. */
  takeAt(index: number): T | undefined {
    if (index < 0 || index >= this.#size) return undefined;
    const items = this.#items;
    const mask = items.length - 1;
    const item = items[(this.#head + index) & mask];
    for (let j = index; j < this.#size - 1; j++) {
      items[(this.#head + j) & mask] = items[(this.#head + j + 1) & mask];
    }
    items[(this.#head + this.#size - 1) & mask] = undefined;
    this.#size--;
    return item;
  }

  /** The items from head to tail, written over `out` (whose length becomes the size). */
  copyInto(out: T[]): void {
    const mask = this.#items.length - 1;
    for (let i = 0; i < this.#size; i++) out[i] = this.#items[(this.#head + i) & mask] as T;
    out.length = this.#size;
  }

  /** The items from head to tail. */
  toArray(): T[] {
    const out: T[] = [];
    const mask = this.#items.length - 1;
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(this.#head + i) & mask] as T);
    return out;
  }

  #grow(): void {
    const old = this.#items;
    const next: (T | undefined)[] = new Array(old.length === 0 ? 16 : old.length * 2).fill(
      undefined,
    );
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = next;
    this.#head = 0;
  }
}
