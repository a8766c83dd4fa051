-- Take a page of due work out of every other replica's sight: up to `limit` members of each sorted set in
-- KEYS[1..n-1] scored at or before Redis TIME move `lease_ms` ahead. The claim script that follows checks each
-- is still wanted and records the owner; if this replica dies in between, they simply fall due again. The
-- score each had first is kept in KEYS[n] (keys.reserved_due) until a claim records it.
-- Returns Redis now, then (set index, member, due score) for each member taken.
local limit, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()
local out = {now}
local firsts = KEYS[#KEYS]
for i = 1, #KEYS - 1 do
  local set = KEYS[i]
  local page = redis.call('ZRANGEBYSCORE', set, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  for j = 1, #page, 2 do
    redis.call('ZADD', firsts, 'NX', page[j + 1], page[j])
    redis.call('ZADD', set, now + lease_ms, page[j])
    out[#out + 1] = i
    out[#out + 1] = page[j]
    out[#out + 1] = page[j + 1]
  end
end
return out
