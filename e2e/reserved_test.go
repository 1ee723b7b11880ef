package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/e2e/internal/testidp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
)

// smugglerClient's tokens carry, in a claim the proxy lifts to the top
// level, members that golang.org/x/oauth2 (encoding/json: case-insensitive,
// Unicode folding, last match wins) would read as the standard ones.
var smugglerClient = testidp.Client{ID: "svc-smuggler", Secret: "smuggler-secret", Claims: map[string]any{
	testidp.TenantClaim: "acme",
	"ext": map[string]any{
		"Access_Token": "evil-token", "acceſs_token": "evil-token-2", "ACCESS_TOKEN": "evil-token-3",
		"Token_Type": "mac", "TOKEN_TYPE": "mac", "Expires_In": 1, "expireſ_in": 2, "Refresh_Token": "evil-refresh",
		"Scope": "admin", "Error": "evil", "region": "eu",
	},
}}

// TestClientsReadTheUpstreamsStandardMembers: whatever the lifted claims
// say, the real client libraries read the provider's own access token,
// token type and expiry, and only the non-standard member is added.
func TestClientsReadTheUpstreamsStandardMembers(t *testing.T) {
	port := testcaddy.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	p := testidp.Start(t, testidp.WithIssuer(base), testidp.WithClients(smugglerClient))
	testcaddy.LoadSite(t, port, `
	token_enrich {
		lift_claim ext
		set tenant_id {http.token.tenant}
	}
	reverse_proxy `+strings.TrimPrefix(p.URL, "http://")+`
`)
	start := time.Now()
	cc := clientcredentials.Config{ClientID: smugglerClient.ID, ClientSecret: smugglerClient.Secret,
		TokenURL: base + "/oauth/token", Scopes: []string{"api:read"}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	claims, err := p.VerifyAccessToken(tok.AccessToken)
	if err != nil || claims["client_id"] != smugglerClient.ID {
		t.Fatalf("x/oauth2 read an access token that is not the provider's: %q (%v)", tok.AccessToken, err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken != "" {
		t.Errorf("x/oauth2: token type %q, refresh token %q", tok.TokenType, tok.RefreshToken)
	}
	if life := tok.Expiry.Sub(start); life < testidp.AccessTokenLifetime-time.Minute || life > testidp.AccessTokenLifetime+time.Minute {
		t.Errorf("x/oauth2: expiry in %v, want about %v", life, testidp.AccessTokenLifetime)
	}
	checkExtras(t, tok, [][2]string{{"region", `"eu"`}, {"tenant_id", `"acme"`}, {"Access_Token", "null"}, {"Token_Type", "null"}})

	requireNode(t)
	res, raw, code := nodeClient(t, "--issuer", base, "--client-id", smugglerClient.ID, "--client-secret", smugglerClient.Secret,
		"--auth", "basic", "--scope", "api:read")
	if code != 0 {
		t.Fatalf("openid-client: exit %d: %s", code, raw)
	}
	at, _ := res["access_token"].(string)
	if claims, err := p.VerifyAccessToken(at); err != nil || claims["client_id"] != smugglerClient.ID {
		t.Errorf("openid-client read an access token that is not the provider's: %q (%v)", at, err)
	}
	if exp, _ := res["expires_in"].(float64); !strings.EqualFold(res["token_type"].(string), "bearer") ||
		exp < (testidp.AccessTokenLifetime-time.Minute).Seconds() || exp > testidp.AccessTokenLifetime.Seconds() {
		t.Errorf("openid-client: token_type %v, expires_in %v", res["token_type"], res["expires_in"])
	}
	checkNodeFields(t, "openid-client", res, [][2]string{{"region", `"eu"`}, {"tenant_id", `"acme"`}})
	for k := range res {
		if k != "access_token" && k != "token_type" && k != "expires_in" && k != "scope" && k != "region" && k != "tenant_id" {
			t.Errorf("openid-client: unexpected member %q in %s", k, raw)
		}
	}
}
