// A certified OpenID Provider (npm oidc-provider, pinned in package.json) on loopback for
// tests/login.rs. Prints one line {"issuer": URL} on stdout when listening; killed by the test.
// Any login name signs in; the account is {sub: NAME, email: NAME@example.test, verified}.
import http from "node:http";
import Provider from "oidc-provider";

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: "sigstore",
    application_type: "native",
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    // Native client: a port-less loopback redirect accepts any port (RFC 8252).
    redirect_uris: ["http://127.0.0.1/auth/callback", "http://localhost/auth/callback"],
  }],
  pkce: { required: () => true },
  scopes: ["openid", "email", "offline_access"],
  claims: { openid: ["sub"], email: ["email", "email_verified"] },
  findAccount: (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test`, email_verified: true }),
  }),
  features: { devInteractions: { enabled: true } },
  // Put email in the ID token (Fulcio reads it there), not only in userinfo.
  conformIdTokenClaims: false,
  ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Session: 600, Interaction: 600, Grant: 600 },
});
provider.on("server_error", (_ctx, err) => console.error("oidc-provider error:", err));
server.on("request", provider.callback());
console.log(JSON.stringify({ issuer }));
