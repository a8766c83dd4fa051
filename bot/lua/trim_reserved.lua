-- Forget first due times (keys.reserved_due, KEYS[n]: kept by reserve.lua until a claim takes them) of items
-- that are in none of the due sets KEYS[1..n-1] any more: reserved by a replica that died before its claim,
-- then dropped (the incident resolved). Such an entry could never be claimed; one whose item is still in a set
-- is left for the claim. Looks at `limit` entries taken at random (entries that stay, such as items this version
-- cannot read, never hide the others); returns how many it forgot.
local firsts = KEYS[#KEYS]
local gone = 0
for _, member in ipairs(redis.call('ZRANDMEMBER', firsts, tonumber(ARGV[1]))) do
  local kept = false
  for i = 1, #KEYS - 1 do
    if redis.call('ZSCORE', KEYS[i], member) then
      kept = true
      break
    end
  end
  if not kept then
    redis.call('ZREM', firsts, member)
    gone = gone + 1
  end
end
return gone
