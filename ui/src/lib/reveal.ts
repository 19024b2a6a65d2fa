// Showing a secret for a while: the revealed token hides itself again after a
// delay, on demand, or when the screen goes away.

export class Reveal {
  #timer: ReturnType<typeof setTimeout> | null = null;
  #value: string | null = null;

  constructor(
    private readonly onChange: (value: string | null) => void,
    readonly ms = 30_000,
  ) {}

  get value(): string | null {
    return this.#value;
  }

  /** Shows a value and schedules hiding it. */
  show(value: string): void {
    this.#clear();
    this.#value = value;
    this.onChange(value);
    this.#timer = setTimeout(() => this.hide(), this.ms);
  }

  /** Hides the value now. */
  hide(): void {
    this.#clear();
    if (this.#value !== null) {
      this.#value = null;
      this.onChange(null);
    }
  }

  #clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
