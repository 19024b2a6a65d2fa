import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Reveal } from "./reveal";

describe("Reveal", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hides again after its delay", () => {
    const seen: (string | null)[] = [];
    const r = new Reveal((v) => seen.push(v), 30_000);
    r.show("tok");
    expect(r.value).toBe("tok");
    vi.advanceTimersByTime(29_999);
    expect(r.value).toBe("tok");
    vi.advanceTimersByTime(1);
    expect(r.value).toBeNull();
    expect(seen).toEqual(["tok", null]);
  });

  it("hides on demand, once, and restarts the delay when shown again", () => {
    const seen: (string | null)[] = [];
    const r = new Reveal((v) => seen.push(v), 1000);
    r.show("a");
    vi.advanceTimersByTime(900);
    r.show("b");
    vi.advanceTimersByTime(900);
    expect(r.value).toBe("b");
    r.hide();
    r.hide();
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual(["a", "b", null]);
  });
});
