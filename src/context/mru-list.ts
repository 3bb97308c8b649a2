// A bounded most-recently-used list: touching an item moves it to the front.
export class MruList<T> {
  private list: T[] = [];

  constructor(private readonly capacity: number) {}

  touch(item: T): void {
    const i = this.list.indexOf(item);
    if (i === 0) return;
    if (i > 0) this.list.splice(i, 1);
    this.list.unshift(item);
    if (this.list.length > this.capacity) this.list.length = this.capacity;
  }

  /** Most recent first (a copy). */
  items(): T[] {
    return [...this.list];
  }
}
