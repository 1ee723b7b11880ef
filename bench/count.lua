-- wrk script for the leak check: the token request of post.lua, stopping
-- each thread after BENCH_COUNT / threads responses.
wrk.method = "POST"
wrk.path = "/oauth/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9u00" ..
	"&client_secret=s3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3t" ..
	"&audience=https%3A%2F%2Fapi.example.com%2F"

local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local limit = math.ceil(tonumber(os.getenv("BENCH_COUNT") or "100000") / threads)
local done = 0

function response(status, headers, body)
	done = done + 1
	if done >= limit then
		wrk.thread:stop()
	end
end
