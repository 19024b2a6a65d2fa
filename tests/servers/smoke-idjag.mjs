// Smoke checks of enterprise-managed authorization (SEP-990, idjag.mjs), run
// by smoke.mjs with its harness: sign in at the IdP, trade the ID token for
// ID-JAGs, present them to the main and tenant authorization servers, call
// MCP servers with the tokens, and every refusal on the way.

import { decodeJwt, decodeProtectedHeader } from 'jose';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';

export async function idjagChecks({
  env, step, check, http, findings, mainMeta, basic, tokenRequest, authorize, discover, mcpSession, textOf,
}) {
  const REDIRECT = 'http://127.0.0.1:40002/callback';
  const idjagAuth = basic(env.clients.idjag.client_id, env.clients.idjag.client_secret);
  const idpSecretAuth = basic(env.clients.idp_secret.client_id, env.clients.idp_secret.client_secret);
  const secrets = []; // token values that must never show in the log
  let idpMeta;
  let idToken; // carol's, issued to mcpauth-idp
  let otherIdToken; // carol's, issued to mcpauth-idp-secret

  // Parameters given as undefined are left out.
  const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const exchange = async (params, { auth, clientId = 'mcpauth-idp' } = {}) => tokenRequest(idpMeta, defined({
    grant_type: TOKEN_EXCHANGE,
    subject_token: idToken,
    subject_token_type: ID_TOKEN_TYPE,
    requested_token_type: ID_JAG_TYPE,
    audience: env.issuer,
    resource: env.mcp.current,
    scope: 'mcp:read',
    ...(auth ? {} : { client_id: clientId }),
    ...params,
  }), { auth });
  const jagFor = async (params = {}) => {
    const r = await exchange(params);
    if (r.status !== 200) throw new Error(`exchange failed: ${r.text}`);
    secrets.push(r.json.access_token);
    return r.json.access_token;
  };
  const present = (assertion, params = {}, { auth = idjagAuth, meta = mainMeta } = {}) => tokenRequest(meta, {
    grant_type: JWT_BEARER, assertion, resource: env.mcp.current, ...params,
  }, { auth });
  const next = (body) => http(`${env.issuer}/__test/idjag-next`, { method: 'POST', json: body });
  const refusedGrant = (r, pattern) => r.status === 400 && r.json?.error === 'invalid_grant' && pattern.test(r.json.error_description ?? '');

  await step('11. enterprise IdP: metadata, OpenID Connect sign-in, refresh with a new ID token', async () => {
    check(/^http:\/\/127\.0\.0\.1:\d+$/.test(env.idpIssuer ?? ''), 'idpIssuer form', env.idpIssuer);
    for (const k of ['idp', 'idp_secret', 'idjag']) check(!!env.clients[k]?.client_id, `client ${k}`);
    check(!!env.clients.idp_secret.client_secret && !!env.clients.idjag.client_secret, 'idp_secret and idjag secrets');
    idpMeta = await discover(env.idpIssuer);
    check(idpMeta.issuer === env.idpIssuer, 'IdP metadata issuer');
    check(idpMeta.grant_types_supported.includes(TOKEN_EXCHANGE), 'IdP grant_types_supported has token-exchange', idpMeta.grant_types_supported);
    const oidc = await http(`${env.idpIssuer}/.well-known/openid-configuration`);
    check(oidc.status === 200 && oidc.json.issuer === env.idpIssuer, 'IdP openid-configuration too');
    const jwks = await http(idpMeta.jwks_uri);
    check(jwks.json?.keys?.some((k) => k.kid === 'idp-idjag-es256' && k.crv === 'P-256' && !k.d), 'IdP JWKS publishes its ID-JAG key (public part only)');
    check(mainMeta.grant_types_supported.includes(JWT_BEARER), 'main AS grant_types_supported has jwt-bearer');
    const tenant = await discover(env.tenantIssuer);
    check(tenant.grant_types_supported.includes(JWT_BEARER), 'tenant AS grant_types_supported has jwt-bearer');

    const cb = await authorize(idpMeta, { clientId: 'mcpauth-idp', redirectUri: REDIRECT, scope: 'openid offline_access', login: 'carol' });
    check(!!cb.code && cb.iss === env.idpIssuer, 'IdP: code + iss', cb);
    const t = await tokenRequest(idpMeta, {
      grant_type: 'authorization_code', code: cb.code, redirect_uri: REDIRECT, code_verifier: cb.verifier, client_id: 'mcpauth-idp',
    });
    check(t.status === 200 && !!t.json.id_token && !!t.json.refresh_token, 'IdP: ID token and refresh token', t.text);
    findings.idpTokenResponse = { ...t.json, access_token: '…', refresh_token: '…', id_token: '…' };
    const claims = decodeJwt(t.json.id_token);
    check(claims.iss === env.idpIssuer && claims.aud === 'mcpauth-idp' && claims.sub === 'carol', 'ID token iss, aud, sub', claims);
    const r = await tokenRequest(idpMeta, { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: 'mcpauth-idp' });
    check(r.status === 200 && !!r.json.id_token && r.json.refresh_token && r.json.refresh_token !== t.json.refresh_token, 'IdP refresh: new ID token, rotated refresh token', r.text);
    check(decodeJwt(r.json.id_token).sub === 'carol', 'refreshed ID token is carol\'s');
    idToken = r.json.id_token;
    secrets.push(t.json.id_token, idToken, t.json.refresh_token, r.json.refresh_token);

    const cb2 = await authorize(idpMeta, { clientId: 'mcpauth-idp-secret', redirectUri: REDIRECT, scope: 'openid', login: 'carol' });
    const t2 = await tokenRequest(idpMeta, {
      grant_type: 'authorization_code', code: cb2.code, redirect_uri: REDIRECT, code_verifier: cb2.verifier,
    }, { auth: idpSecretAuth });
    check(t2.status === 200 && decodeJwt(t2.json.id_token).aud === 'mcpauth-idp-secret', 'IdP confidential client (client_secret_basic): ID token', t2.text);
    otherIdToken = t2.json.id_token;
    secrets.push(otherIdToken);
    const stats = await http(`${env.idpIssuer}/__test/stats`);
    check(stats.json?.success?.refresh_token >= 1, 'IdP /__test/stats', stats.json);
  });

  await step('11a. token exchange -> ID-JAG -> access token -> MCP call', async () => {
    const r = await exchange({});
    check(r.status === 200, 'token exchange 200', r.text);
    check(r.json.issued_token_type === ID_JAG_TYPE && r.json.token_type === 'N_A' && r.json.expires_in === 300 && r.json.scope === 'mcp:read', 'exchange response fields', { ...r.json, access_token: '…' });
    check(!r.json.refresh_token, 'no refresh token from the exchange');
    const jag = r.json.access_token;
    secrets.push(jag);
    check(decodeProtectedHeader(jag).typ === 'oauth-id-jag+jwt', 'ID-JAG typ header');
    const c = decodeJwt(jag);
    findings.idJagClaims = c;
    check(c.iss === env.idpIssuer && c.sub === 'carol' && c.aud === env.issuer && c.client_id === 'mcpauth-idjag'
      && c.resource === env.mcp.current && c.scope === 'mcp:read' && !!c.jti && c.exp - c.iat === 300, 'ID-JAG claims', c);

    const a = await present(jag, { scope: 'mcp:read' });
    check(a.status === 200 && a.json.token_type === 'Bearer' && a.json.scope === 'mcp:read' && !a.json.refresh_token, 'AS: ID-JAG -> access token, no refresh token', a.text);
    findings.idJagTokenResponse = { ...a.json, access_token: '…' };
    const at = decodeJwt(a.json.access_token);
    findings.idJagAccessTokenClaims = at;
    check(at.sub === 'carol' && at.aud === env.mcp.current && at.client_id === 'mcpauth-idjag' && at.iss === env.issuer, 'access token sub = the user, aud, client_id', at);
    secrets.push(a.json.access_token);
    const s = await mcpSession(env.mcp.current, a.json.access_token);
    const who = await s.call('whoami');
    check(who.status === 200 && JSON.parse(textOf(who) ?? '{}').sub === 'carol', 'current MCP whoami: carol', who.text);
    const again = await present(jag, { scope: 'mcp:read' });
    check(refusedGrant(again, /already used/), 'same ID-JAG twice -> invalid_grant (jti replay)', again.text);

    // Without resource nor scope: the ID-JAG's; a wider scope is cut to the ID-JAG's.
    const plain = await tokenRequest(mainMeta, { grant_type: JWT_BEARER, assertion: await jagFor() }, { auth: idjagAuth });
    check(plain.status === 200 && decodeJwt(plain.json.access_token).aud === env.mcp.current && plain.json.scope === 'mcp:read', 'no resource/scope in the request -> the ID-JAG\'s', plain.text);
    const wide = await present(await jagFor(), { scope: 'mcp:read mcp:write' });
    check(wide.status === 200 && wide.json.scope === 'mcp:read', 'wider scope than the ID-JAG\'s -> the intersection', wide.text);
    const noScope = await present(await jagFor({ scope: undefined }), { scope: 'mcp:read mcp:write' });
    check(noScope.status === 200 && noScope.json.scope === 'mcp:read mcp:write', 'ID-JAG without scope -> what was asked', noScope.text);

    // Confidential IdP client, tenant AS, fallback MCP server.
    const t = await exchange({ subject_token: otherIdToken, audience: env.tenantIssuer, resource: env.mcp.fallback }, { auth: idpSecretAuth });
    check(t.status === 200 && decodeJwt(t.json.access_token).aud === env.tenantIssuer, 'exchange with client_secret_basic, for the tenant AS', t.text);
    secrets.push(t.json.access_token);
    const tenantMeta = await discover(env.tenantIssuer);
    const ta = await present(t.json.access_token, { resource: env.mcp.fallback }, { meta: tenantMeta });
    check(ta.status === 200 && decodeJwt(ta.json.access_token).iss === env.tenantIssuer, 'tenant AS accepts the ID-JAG', ta.text);
    const fs = await mcpSession(env.mcp.fallback, ta.json.access_token);
    const fwho = await fs.call('whoami');
    check(fwho.status === 200 && JSON.parse(textOf(fwho) ?? '{}').sub === 'carol', 'fallback MCP whoami: carol', fwho.text);
    const cross = await present(await jagFor(), {}, { meta: tenantMeta });
    check(refusedGrant(cross, /audience/), 'ID-JAG for the main AS at the tenant AS -> invalid_grant (audience)', cross.text);
  });

  await step('11b. ID-JAG refusals at the authorization server', async () => {
    let r = await next({ expired: true });
    check(r.status === 200 && r.json.next.spoil?.expired === true, 'hook: next ID-JAG expired', r.text);
    r = await present(await jagFor());
    findings.idJagExpired = r.json;
    check(refusedGrant(r, /expired/), 'expired ID-JAG -> invalid_grant', r.text);
    await next({ audience: 'https://wrong.example' });
    const wrongAud = await jagFor();
    check(decodeJwt(wrongAud).aud === 'https://wrong.example', 'hook: next ID-JAG has the wrong audience');
    r = await present(wrongAud);
    check(refusedGrant(r, /audience/), 'wrong audience -> invalid_grant', r.text);
    const good = await jagFor();
    check(decodeJwt(good).aud === env.issuer, 'the hooks applied once');
    await next({ client_id: 'someone-else' });
    r = await present(await jagFor());
    check(refusedGrant(r, /someone-else/), 'ID-JAG for another client -> invalid_grant', r.text);
    r = await present(good, { client_id: env.clients.workload.client_id }, { auth: null });
    check(refusedGrant(r, /issued for client mcpauth-idjag/), 'presented by another client (mcpauth-workload) -> invalid_grant', r.text);
    r = await present(good, { resource: env.mcp.legacy });
    check(refusedGrant(r, /resource/), 'another resource than the ID-JAG\'s -> invalid_grant', r.text);
    const [h, p, sig] = good.split('.');
    r = await present(`${h}.${p}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`);
    check(refusedGrant(r, /signature/), 'bad signature -> invalid_grant', r.text);
    r = await present(good, {}, { auth: basic(env.clients.idjag.client_id, 'wrong') });
    check(r.status === 401 && r.json.error === 'invalid_client', 'wrong mcpauth-idjag secret -> invalid_client', r.text);
    r = await present(good, { scope: 'mcp:read nope' });
    check(r.status === 400 && r.json.error === 'invalid_scope', 'a scope the resource does not have -> invalid_scope', r.text);
    r = await present(good);
    check(r.status === 200, 'the good ID-JAG still works after all that', r.text);

    // Workload assertions are untouched and stay out of the ID-JAG log.
    const w = await http(`${env.issuer}/__test/workload-token`, { method: 'POST', json: { sub: 'smoke-wif' } });
    r = await tokenRequest(mainMeta, {
      grant_type: JWT_BEARER, assertion: w.json.assertion, resource: env.mcp.current, scope: 'mcp:read', client_id: env.clients.workload.client_id,
    });
    check(r.status === 200 && decodeJwt(r.json.access_token).sub === env.clients.workload.client_id, 'workload assertion still granted', r.text);
    const wl = (await http(`${env.issuer}/__test/workload-log`)).json.requests;
    check(wl.length === 1 && wl[0].sub === 'smoke-wif' && wl[0].outcome === 'granted', 'workload log: only the workload request', wl);
  });

  await step('11c. token exchange refusals at the IdP; the log', async () => {
    let r = await exchange({ subject_token: otherIdToken });
    check(refusedGrant(r, /another client/), 'ID token of another client -> invalid_grant', r.text);
    r = await exchange({ audience: 'https://unknown.example' });
    check(r.status === 400 && r.json.error === 'invalid_target', 'unknown audience -> invalid_target', r.text);
    r = await exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    check(r.status === 400 && r.json.error === 'invalid_request', 'other subject_token_type -> invalid_request', r.text);
    r = await exchange({ requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    check(r.status === 400 && r.json.error === 'invalid_request', 'other requested_token_type -> invalid_request', r.text);
    r = await exchange({ resource: undefined });
    check(r.status === 400 && r.json.error === 'invalid_request' && /resource/.test(r.json.error_description), 'no resource -> invalid_request', r.text);
    r = await exchange({ subject_token: 'not.a.jwt' });
    check(r.status === 400 && r.json.error === 'invalid_grant', 'garbage subject_token -> invalid_grant', r.text);
    r = await exchange({}, { clientId: 'mcpauth-public' });
    check(r.status === 401 && r.json.error === 'invalid_client', 'a client the IdP does not know -> invalid_client', r.text);
    await next({ refuse: 'access_denied' });
    r = await exchange({});
    check(r.status === 400 && r.json.error === 'access_denied', 'hook: next exchange refused (access_denied)', r.text);
    r = await exchange({});
    check(r.status === 200, 'the refusal applied once', r.text);
    secrets.push(r.json?.access_token);

    const log = (await http(`${env.issuer}/__test/idjag-log`)).json;
    findings.idjagLog = { exchanges: log.exchanges.slice(-3), grants: log.grants.slice(-3) };
    const reasons = (list, outcome) => list.filter((e) => e.outcome === outcome).map((e) => e.reason);
    check(log.exchanges.some((e) => e.outcome === 'issued' && e.sub === 'carol' && e.client_id === 'mcpauth-idp' && e.audience === env.issuer && e.resource === env.mcp.current), 'log: an issued exchange', log.exchanges[0]);
    for (const reason of ['id_token audience', 'unknown audience', 'subject_token_type', 'requested_token_type', 'resource missing', 'test hook: access_denied']) {
      check(reasons(log.exchanges, 'refused').includes(reason), `log: exchange refused (${reason})`, reasons(log.exchanges, 'refused'));
    }
    check(log.grants.some((e) => e.outcome === 'granted' && e.sub === 'carol' && e.client_id === 'mcpauth-idjag' && e.scope === 'mcp:read'), 'log: a granted ID-JAG');
    for (const reason of ['expired', 'audience', 'client_id mismatch', 'resource mismatch', 'signature', 'replayed', 'scope']) {
      check(reasons(log.grants, 'refused').includes(reason), `log: grant refused (${reason})`, reasons(log.grants, 'refused'));
    }
    check(log.requests.length === log.exchanges.length + log.grants.length, 'log: requests = exchanges + grants, in order');
    const text = JSON.stringify(log);
    check(secrets.filter(Boolean).every((s) => !text.includes(s) && !text.includes(s.split('.')[2] ?? s)), 'log: no token values');
    const bad = await next({ nope: 1 });
    check(bad.status === 400, 'hook: unknown field -> 400');
  });
}
