-- wrk script: POST /commands/greeter:hello through the JSON boundary, with the token.
wrk.method = "POST"
wrk.body = '{"name":"load"}'
wrk.headers["content-type"] = "application/json"
wrk.headers["x-patchpanel-token"] = "demo-token"
