// Workload identity (MCP SEP-1933) on oidc-provider: the JWT bearer grant
// (RFC 7523 §2.1), which oidc-provider does not ship, registered through its
// public registerGrantType. The assertion is a JWT from a workload platform
// (a Kubernetes cluster, a CI system); here `createPlatform` plays that
// platform: its own ES256 key, issuer https://platform.mcpauth.test, and
// tokens made on request (POST /__test/workload-token, start.mjs).
//
// The grant checks what an authorization server federating a platform checks:
// the platform's signature, its issuer, this server as audience, expiry. It
// issues a client-credentials-like access token (JWT, for the resource asked)
// to the client that presented the assertion. Every request is logged with
// the assertion's subject and the outcome (GET /__test/workload-log), so tests
// can show what reached the server, and that a refused assertion is not sent
// again.
//
// The same grant carries enterprise-managed authorization (SEP-990): an
// assertion whose header says `typ: oauth-id-jag+jwt` is an ID-JAG of the
// test IdP and goes to idjag.mjs instead (its own log, not the workload one).

import { randomUUID } from 'node:crypto';

import { SignJWT, generateKeyPair, jwtVerify } from 'jose';
import { errors } from 'oidc-provider';

import { isIdJag, redeemIdJag } from './idjag.mjs';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const PLATFORM_ISSUER = 'https://platform.mcpauth.test';

/** The workload platform: its key, and the tokens it projects into workloads. */
export async function createPlatform() {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return {
    publicKey,
    /**
     * A token as the platform issues it.
     * @param {object} o
     * @param {string} o.aud            the authorization server it is for
     * @param {string} [o.sub]          the workload
     * @param {number} [o.expiresIn]    seconds from now (negative: expired)
     */
    async issue({ aud, sub = 'system:serviceaccount:ci:deployer', expiresIn = 600 }) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sub })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
        .setIssuer(PLATFORM_ISSUER)
        .setAudience(aud)
        .setIssuedAt(now)
        .setExpirationTime(now + expiresIn)
        .setJti(randomUUID())
        .sign(privateKey);
    },
  };
}

/**
 * Registers the JWT bearer grant on `provider`.
 *
 * @param {import('oidc-provider').default} provider
 * @param {object} o
 * @param {string} o.issuer                 this server (the assertion's audience)
 * @param {(resource: string) => Promise<object>} o.resourceInfo   as getResourceServerInfo
 * @param {{platform: {publicKey: CryptoKey}, log: object[]}} [o.workload]
 *        the workload platform trusted here, and where each request's outcome is pushed
 * @param {object} [o.idjag]                the IdP whose ID-JAGs are accepted (idjag.mjs createIdp)
 */
export function enableJwtBearer(provider, {
  issuer, resourceInfo, workload, idjag,
}) {
  provider.registerGrantType(JWT_BEARER, async (ctx) => {
    const { client, params } = ctx.oidc;
    if (idjag && isIdJag(params.assertion)) {
      await redeemIdJag(provider, ctx, { issuer, resourceInfo, idp: idjag });
      return;
    }
    if (!workload) {
      if (!params.assertion) throw new errors.InvalidRequest('missing required parameter \'assertion\'');
      throw new errors.InvalidGrant('only identity assertion grants (typ oauth-id-jag+jwt) are accepted here');
    }
    const { platform, log } = workload;
    const entry = { client_id: client.clientId, sub: null, outcome: 'refused' };
    log.push(entry);
    if (!params.assertion) throw new errors.InvalidRequest('missing required parameter \'assertion\'');
    let payload;
    try {
      ({ payload } = await jwtVerify(params.assertion, platform.publicKey, {
        issuer: PLATFORM_ISSUER, audience: issuer, algorithms: ['ES256'],
      }));
    } catch (e) {
      entry.reason = e.code ?? e.message;
      throw new errors.InvalidGrant(`the assertion is not valid here (${e.code ?? 'invalid'}: ${e.message})`);
    }
    entry.sub = payload.sub;
    if (!params.resource) throw new errors.InvalidTarget('a resource indicator is required');
    const info = await resourceInfo(params.resource);
    const offered = info.scope.split(' ');
    const requested = params.scope ? params.scope.split(' ').filter(Boolean) : offered;
    const refused = requested.filter((s) => !offered.includes(s));
    if (refused.length) throw new errors.InvalidScope('requested scope is not allowed', refused.join(' '));

    const token = new provider.ClientCredentials({ client, scope: requested.join(' ') });
    token.resourceServer = new provider.ResourceServer(params.resource, info);
    ctx.oidc.entity('ClientCredentials', token);
    const value = await token.save();
    entry.outcome = 'granted';
    ctx.body = {
      access_token: value,
      expires_in: token.expiration,
      token_type: token.tokenType,
      scope: token.scope,
    };
  }, ['assertion', 'scope', 'resource']);
}
