// The screens, addressed by the location hash (#/accounts, #/account/ab12cd34, …).

export type Route =
  | { screen: "accounts" }
  | { screen: "add" }
  | { screen: "import" }
  | { screen: "machine" }
  | { screen: "settings" }
  | { screen: "detail"; id: string };

export type Screen = Route["screen"];

/** The route a location hash names; unknown hashes show the accounts. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, "").replace(/\/+$/, "");
  const [head, ...rest] = path.split("/");
  switch (head) {
    case "add":
      return { screen: "add" };
    case "import":
      return { screen: "import" };
    case "machine":
      return { screen: "machine" };
    case "settings":
      return { screen: "settings" };
    case "account": {
      const id = decodeURIComponent(rest.join("/"));
      return id ? { screen: "detail", id } : { screen: "accounts" };
    }
    default:
      return { screen: "accounts" };
  }
}

/** The location hash of a route. */
export function routeHash(route: Route): string {
  switch (route.screen) {
    case "detail":
      return `#/account/${encodeURIComponent(route.id)}`;
    default:
      return `#/${route.screen}`;
  }
}

/** The screen a nav link stands for while a route is shown (detail belongs to Accounts). */
export function navScreen(route: Route): Screen {
  return route.screen === "detail" ? "accounts" : route.screen;
}
