-- Members of one or more sorted sets scored at or before Redis TIME minus `age_ms`, up to `limit`
-- from each: scheduled work that is due, or messages dirty for longer than a render takes.
local limit, age_ms = ARGV[1], tonumber(ARGV[2])
local cutoff = now_ms() - age_ms
local out = {}
for _, set in ipairs(KEYS) do
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', set, '-inf', cutoff, 'LIMIT', 0, limit)) do
    out[#out + 1] = member
  end
end
return out
