// The device authorization grant (RFC 8628) on the test authorization
// servers: oidc-provider's own deviceFlow feature, with plain pages of our
// own in place of its defaults (which load Google Fonts and print a
// "should change" notice at start), and a polling interval of 1 s instead of
// the RFC's default 5 s, so that tests wait less.
//
// The pages keep the defaults' structure, which tests/browser/approve.mjs
// reads: the code-entry form (`input[name=user_code]`), the confirmation
// form `op.deviceConfirmForm` with a Continue button (`button[autofocus]`)
// and an Abort one (`button[name=abort]`), and a success page titled
// "Sign-in Success".

export const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';

/** Lifetime of the codes issued to the `mcpauth-device-short` client (seconds). */
export const DEVICE_SHORT_TTL = 4;

const escape = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title, body) => `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`;

export const deviceFlowFeature = {
  enabled: true,
  // Entering the code by hand (verification_uri without user_code).
  async userCodeInputSource(ctx, form, out, err) {
    let problem = '';
    if (err && (err.userCode || err.name === 'NoCodeError')) problem = 'That code is not valid, or it has expired.';
    else if (err && err.name === 'AbortedError') problem = 'The sign-in was declined.';
    else if (err) problem = 'There was an error processing your request.';
    if (problem) problem = `<p class="error">${problem}</p>`;
    ctx.body = page('Sign-in', `${problem}<p>Enter the code shown on your device.</p>${form}
      <button type="submit" form="op.deviceInputForm">Continue</button>`);
  },
  // Confirming the code (verification_uri_complete, or after it was typed).
  async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
    ctx.body = page('Confirm Device', `<p>Is this the code on your device?</p>
      <p><code>${escape(userCode)}</code></p>
      <p>Client: ${escape(client.clientName || client.clientId)}</p>${form}
      <button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
      <button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`);
  },
  async successSource(ctx) {
    ctx.body = page('Sign-in Success', '<p>Your sign-in was successful; you can close this window and go back to your device.</p>');
  },
};

/** Adds `interval: 1` to every device authorization response. */
export function shortenDevicePolling(provider) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method === 'POST' && ctx.path.endsWith('/device/auth') && ctx.status === 200 && ctx.body?.device_code) {
      ctx.body = { ...ctx.body, interval: 1 };
    }
  });
}
