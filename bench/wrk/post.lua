-- wrk: POST the JSON body in $BODY to the URL given on the command line (an etcd gateway call),
-- over keep-alive connections, as lua-resty-etcd does. Prints the non-2xx/3xx count, which must
-- be 0 for the throughput to mean anything.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY")

done = function(summary, latency, requests)
  io.write(string.format("non2xx %d\n", summary.errors.status))
end
