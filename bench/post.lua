-- wrk script: an Auth0 client-credentials token request (client_secret_post).
-- PATH selects the route: /oauth/token is enriched, any other path is not.
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/oauth/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9u00" ..
	"&client_secret=s3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3t" ..
	"&audience=https%3A%2F%2Fapi.example.com%2F"
