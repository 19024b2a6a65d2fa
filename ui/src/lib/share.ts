// Adding a server with the sign-in of an account at the same authorization
// server (RFC 8707 §2.2): which accounts to offer, and which scopes to ask
// for. The backend refuses a scope the shared grant does not hold, so the
// form asks for the ones it holds and says which it leaves out.

import type { AccountView, ShareOfferView } from "../bindings";

export interface ShareChoice {
  /** Accounts whose sign-in may be offered, newest first. */
  usable: { offer: ShareOfferView; account: AccountView }[];
  /**
   * Accounts at this authorization server whose sign-in is not offered, and
   * why; `askAgain` when only a refusal before stands in the way.
   */
  withheld: { account: AccountView; why: string; askAgain: boolean }[];
}

/**
 * Splits the backend's offers into those to offer and those to explain. A
 * sign-in refused there before is offered again once the user asks to
 * (`askAgain`): the refusal may have been for that server alone.
 */
export function shareChoice(
  offers: ShareOfferView[],
  find: (id: string) => AccountView | undefined,
  askAgain: ReadonlySet<string> = new Set(),
): ShareChoice {
  const choice: ShareChoice = { usable: [], withheld: [] };
  for (const offer of offers) {
    const account = find(offer.account_id);
    if (!account) continue;
    if (offer.unavailable) {
      choice.withheld.push({ account, why: offer.unavailable, askAgain: false });
    } else if (offer.answered_before === "refused" && !askAgain.has(account.id)) {
      choice.withheld.push({
        account,
        why: `its authorization server refused such a request before${offer.detail ? ` (${offer.detail})` : ""}`,
        askAgain: true,
      });
    } else {
      choice.usable.push({ offer, account });
    }
  }
  return choice;
}

/** Of the scopes the form names, those the shared grant holds and those it does not. */
export function shareScopes(wanted: string[], granted: string[]): { asked: string[]; beyond: string[] } {
  return {
    asked: wanted.filter((s) => granted.includes(s)),
    beyond: wanted.filter((s) => !granted.includes(s)),
  };
}
