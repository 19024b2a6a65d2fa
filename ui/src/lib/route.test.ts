import { describe, expect, it } from "vitest";
import { navScreen, parseRoute, routeHash, type Route } from "./route";

describe("routes", () => {
  it("parse and print", () => {
    const routes: Route[] = [
      { screen: "accounts" },
      { screen: "add" },
      { screen: "import" },
      { screen: "machine" },
      { screen: "settings" },
      { screen: "detail", id: "a1b2c3d4" },
    ];
    for (const r of routes) expect(parseRoute(routeHash(r))).toEqual(r);
  });

  it("fall back to the accounts", () => {
    expect(parseRoute("")).toEqual({ screen: "accounts" });
    expect(parseRoute("#/nowhere")).toEqual({ screen: "accounts" });
    expect(parseRoute("#/account/")).toEqual({ screen: "accounts" });
    expect(parseRoute("#add/")).toEqual({ screen: "add" });
  });

  it("detail belongs to the accounts nav link", () => {
    expect(navScreen({ screen: "detail", id: "x" })).toBe("accounts");
    expect(navScreen({ screen: "settings" })).toBe("settings");
  });
});
