// Enterprise-managed authorization (MCP SEP-990, the ext-auth
// "enterprise-managed-authorization" profile of
// draft-ietf-oauth-identity-assertion-authz-grant) on oidc-provider.
//
// An organisation's identity provider (the IdP, a third oidc-provider
// instance, start.mjs) signs a user in with OpenID Connect. Its client then
// trades the ID token, at the IdP's token endpoint, for an Identity Assertion
// JWT Authorization Grant (ID-JAG): an RFC 8693 token exchange, registered
// here with oidc-provider's registerGrantType as oidc-provider ships none.
// The client presents the ID-JAG to an MCP server's authorization server with
// the JWT bearer grant (RFC 7523), which workload.mjs registers and which
// hands assertions typed `oauth-id-jag+jwt` to `redeemIdJag` below.
//
// The IdP checks what the profile asks (§4.1): the ID token is one it issued
// (its own keys, issuer, expiry) to the client asking (aud), the token types,
// and that the audience is an authorization server it federates with. The
// authorization server checks §5.1 and §6.4: signature with the IdP's key,
// typ, iss, aud, expiry, client_id, resource, a jti used once. Every request
// on either side is logged with its outcome, never a token
// (GET /__test/idjag-log); POST /__test/idjag-next spoils the next ID-JAG
// (expired, another audience or client) or has the next exchange refused.

import { randomUUID } from 'node:crypto';

import express from 'express';
import {
  SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify,
} from 'jose';
import { errors } from 'oidc-provider';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
export const ID_JAG_TYP = 'oauth-id-jag+jwt';
/** Lifetime of an ID-JAG (seconds); the profile wants them short-lived. */
export const ID_JAG_TTL = 300;
/** The client the federated authorization servers know this IdP's users' app as. */
export const IDJAG_CLIENT = 'mcpauth-idjag';
const CLOCK_TOLERANCE_S = 5;
const KID = 'idp-idjag-es256';

// invalid_grant with a description the client sees (oidc-provider's own
// InvalidGrant keeps its argument as a server-side detail only).
const invalidGrant = (description) => new errors.CustomOIDCProviderError('invalid_grant', description);

/**
 * The IdP's ID-JAG signing key, what it federates with, the test hooks'
 * pending spoils and the log. `audiences` maps an authorization server's
 * issuer to the client id that server knows the client as.
 */
export async function createIdp({ issuer, audiences }) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const log = { exchanges: [], grants: [], requests: [] };
  return {
    issuer,
    audiences: new Map(Object.entries(audiences)),
    publicKey,
    privateKey,
    /** Published in the IdP's JWKS (as.mjs `extraKeys`), as a real IdP would. */
    privateJwk: { ...(await exportJWK(privateKey)), kid: KID, alg: 'ES256', use: 'sig' },
    next: { refuse: null, spoil: null },
    usedJti: new Map(), // jti -> exp, at the authorization servers
    log,
    record(kind, entry) {
      const e = { kind, ...entry };
      (kind === 'exchange' ? log.exchanges : log.grants).push(e);
      if (log.requests.length < 10_000) log.requests.push(e);
      return e;
    },
  };
}

/** Why an ID token or an ID-JAG did not verify, in a word or two. */
function verifyReason(err) {
  const text = `${err.code ?? ''} ${err.claim ?? ''} ${err.message ?? ''}`;
  if (/EXPIRED|expired/.test(text)) return 'expired';
  if (/SIGNATURE|signature|JWKS_NO_MATCHING_KEY|NoMatchingKey/i.test(text)) return 'signature';
  if (/\baud\b|audience/.test(text)) return 'audience';
  if (/\biss\b|issuer/.test(text)) return 'issuer';
  if (/\btyp\b/.test(text)) return 'typ';
  if (/ALG|alg/.test(text)) return 'algorithm';
  if (err.claim) return `${err.claim} claim`;
  return 'malformed';
}

/**
 * Registers the token exchange grant (ID token -> ID-JAG) on the IdP.
 *
 * @param {import('oidc-provider').default} provider  the IdP
 * @param {Awaited<ReturnType<typeof createIdp>>} idp
 */
export function enableTokenExchange(provider, idp) {
  provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
    const { client, params } = ctx.oidc;
    const entry = idp.record('exchange', {
      client_id: client.clientId,
      sub: null,
      audience: params.audience ?? null,
      resource: params.resource ?? null,
      scope: params.scope ?? null,
      outcome: 'refused',
      reason: null,
    });
    const refuse = (reason, err) => {
      entry.reason = reason;
      throw err;
    };

    if (idp.next.refuse) {
      const code = idp.next.refuse;
      idp.next.refuse = null;
      refuse(`test hook: ${code}`, new errors.CustomOIDCProviderError(code, 'the identity provider refused this exchange by policy'));
    }
    for (const p of ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource']) {
      if (!params[p]) refuse(`${p} missing`, new errors.InvalidRequest(`missing required parameter '${p}'`));
    }
    if (params.subject_token_type !== ID_TOKEN_TYPE) {
      refuse('subject_token_type', new errors.InvalidRequest(`unsupported subject_token_type (only ${ID_TOKEN_TYPE})`));
    }
    if (params.requested_token_type !== ID_JAG_TYPE) {
      refuse('requested_token_type', new errors.InvalidRequest(`unsupported requested_token_type (only ${ID_JAG_TYPE})`));
    }
    const clientIdThere = idp.audiences.get(params.audience);
    if (!clientIdThere) {
      refuse('unknown audience', new errors.InvalidTarget(`${params.audience} is not an authorization server this identity provider federates with`));
    }
    if (!URL.canParse(params.resource) || !/^https?:$/.test(new URL(params.resource).protocol)) {
      refuse('resource not a URL', new errors.InvalidTarget('resource must be an absolute http(s) URL'));
    }

    // The ID token: signed with this IdP's keys, its issuer, issued to the
    // client asking (oidc-provider's own id_token_hint check, which skips
    // expiry), and not expired.
    let claims;
    try {
      ({ payload: claims } = await provider.IdToken.validate(params.subject_token, client));
    } catch (err) {
      const reason = verifyReason(err);
      refuse(`id_token ${reason}`, invalidGrant(reason === 'audience'
        ? 'the ID token was issued to another client'
        : `the subject_token is not a valid ID token of this identity provider (${reason})`));
    }
    entry.sub = claims.sub;
    if (typeof claims.exp !== 'number' || claims.exp <= Math.floor(Date.now() / 1000)) {
      refuse('id_token expired', invalidGrant('the ID token has expired'));
    }

    const spoil = idp.next.spoil ?? {};
    idp.next.spoil = null;
    const now = Math.floor(Date.now() / 1000);
    const exp = spoil.expired ? now - 120 : now + ID_JAG_TTL;
    const jag = await new SignJWT({
      client_id: spoil.client_id ?? clientIdThere,
      resource: params.resource,
      ...(params.scope ? { scope: params.scope } : {}),
      ...(claims.auth_time ? { auth_time: claims.auth_time } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', typ: ID_JAG_TYP, kid: KID })
      .setIssuer(idp.issuer)
      .setSubject(claims.sub)
      .setAudience(spoil.audience ?? params.audience)
      .setIssuedAt(spoil.expired ? now - 420 : now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(idp.privateKey);

    entry.outcome = 'issued';
    if (Object.keys(spoil).length) entry.reason = `test hook: ${Object.keys(spoil).join(', ')}`;
    ctx.body = {
      access_token: jag,
      issued_token_type: ID_JAG_TYPE,
      token_type: 'N_A',
      expires_in: ID_JAG_TTL,
      ...(params.scope ? { scope: params.scope } : {}),
    };
  }, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type']);
}

/** Whether a JWT bearer assertion is an ID-JAG (header typ). */
export function isIdJag(assertion) {
  if (typeof assertion !== 'string') return false;
  try {
    return String(decodeProtectedHeader(assertion).typ ?? '').toLowerCase() === ID_JAG_TYP;
  } catch {
    return false;
  }
}

/**
 * The JWT bearer grant for an ID-JAG, at an authorization server that trusts
 * the IdP: checks it, then issues a JWT access token for the user (`sub` =
 * the ID-JAG's) for its resource. No refresh token: the client asks the IdP
 * for a new ID-JAG instead.
 *
 * @param {import('oidc-provider').default} provider   the authorization server
 * @param {object} ctx                                 oidc-provider's token request context
 * @param {object} o
 * @param {string} o.issuer                            this authorization server
 * @param {(resource: string) => Promise<object>} o.resourceInfo
 * @param {Awaited<ReturnType<typeof createIdp>>} o.idp   only its issuer, public key and log are used
 */
export async function redeemIdJag(provider, ctx, { issuer, resourceInfo, idp }) {
  const { client, params } = ctx.oidc;
  const entry = idp.record('grant', {
    client_id: client.clientId,
    sub: null,
    audience: issuer,
    resource: params.resource ?? null,
    scope: params.scope ?? null,
    outcome: 'refused',
    reason: null,
  });
  const refuse = (reason, err) => {
    entry.reason = reason;
    throw err;
  };

  let jag;
  try {
    ({ payload: jag } = await jwtVerify(params.assertion, idp.publicKey, {
      issuer: idp.issuer,
      audience: issuer,
      typ: ID_JAG_TYP,
      algorithms: ['ES256'],
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ['sub', 'jti', 'iat', 'exp', 'client_id', 'resource'],
    }));
  } catch (err) {
    const reason = verifyReason(err);
    const said = {
      expired: 'the ID-JAG has expired',
      signature: 'the ID-JAG\'s signature does not verify with the identity provider\'s key',
      audience: 'the ID-JAG\'s audience is not this authorization server',
      issuer: 'the ID-JAG is not from an identity provider this server trusts',
    }[reason] ?? `the ID-JAG is not valid here (${reason})`;
    refuse(reason, invalidGrant(said));
  }
  entry.sub = jag.sub;
  if (jag.client_id !== client.clientId) {
    refuse('client_id mismatch', invalidGrant(`the ID-JAG was issued for client ${jag.client_id}, not ${client.clientId}`));
  }
  if (typeof jag.resource !== 'string') refuse('resource claim', invalidGrant('the ID-JAG names no single resource'));
  if (params.resource && params.resource !== jag.resource) {
    refuse('resource mismatch', invalidGrant('the resource asked for is not the ID-JAG\'s resource'));
  }
  entry.resource = jag.resource;

  const now = Math.floor(Date.now() / 1000);
  for (const [jti, exp] of idp.usedJti) if (exp + CLOCK_TOLERANCE_S < now) idp.usedJti.delete(jti);
  if (idp.usedJti.has(`${issuer} ${jag.jti}`)) refuse('replayed', invalidGrant('the ID-JAG was already used'));

  let info;
  try {
    info = await resourceInfo(jag.resource);
  } catch (err) {
    refuse('unknown resource', err);
  }
  // Scopes (profile §6.2.1): what was asked, else what the ID-JAG carries,
  // else the resource's; never more than the resource offers; the token gets
  // the intersection with the ID-JAG's scope.
  const offered = info.scope.split(' ');
  const split = (s) => (typeof s === 'string' ? s.split(' ').filter(Boolean) : undefined);
  const requested = split(params.scope) ?? split(jag.scope) ?? offered;
  const unknown = requested.filter((s) => !offered.includes(s));
  if (unknown.length) refuse('scope', new errors.InvalidScope('requested scope is not allowed', unknown.join(' ')));
  const allowed = split(jag.scope);
  const scope = allowed ? requested.filter((s) => allowed.includes(s)) : requested;
  if (!scope.length) refuse('scope', new errors.InvalidScope('none of the requested scopes is in the ID-JAG', requested.join(' ')));

  const token = new provider.AccessToken({ accountId: jag.sub, client, scope: scope.join(' ') });
  token.resourceServer = new provider.ResourceServer(jag.resource, info);
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  idp.usedJti.set(`${issuer} ${jag.jti}`, jag.exp);
  entry.outcome = 'granted';
  entry.scope = token.scope;
  ctx.body = {
    access_token: value,
    expires_in: token.expiration,
    token_type: token.tokenType,
    scope: token.scope,
  };
}

/**
 * Test hooks on the main AS origin: GET /__test/idjag-log and
 * POST /__test/idjag-next {"expired": true} | {"audience": "<url>"} |
 * {"client_id": "<id>"} (the next ID-JAG issued, once; may be combined) |
 * {"refuse": "<error code>"} (the next exchange is refused with that code).
 */
export function mountIdjagHooks(app, idp) {
  app.get('/__test/idjag-log', (req, res) => res.json(idp.log));
  app.post('/__test/idjag-next', express.json(), (req, res) => {
    const body = req.body ?? {};
    const known = ['expired', 'audience', 'client_id', 'refuse'];
    const bad = Object.keys(body).filter((k) => !known.includes(k));
    if (bad.length || !Object.keys(body).length) {
      return res.status(400).json({ error: `give one or more of ${known.join(', ')}` });
    }
    if ('refuse' in body) {
      if (typeof body.refuse !== 'string' || !/^[a-z_]+$/.test(body.refuse)) return res.status(400).json({ error: '"refuse" is an OAuth error code' });
      idp.next.refuse = body.refuse;
    }
    const spoil = {};
    if (body.expired === true) spoil.expired = true;
    for (const k of ['audience', 'client_id']) {
      if (k in body) {
        if (typeof body[k] !== 'string') return res.status(400).json({ error: `"${k}" is a string` });
        spoil[k] = body[k];
      }
    }
    if (Object.keys(spoil).length) idp.next.spoil = spoil;
    return res.json({ next: idp.next });
  });
}
