-- Sent in the same write just ahead of a change (replication.Writes `first`): the parts its caller draws next
-- are marked dirty, dated by Redis's clock as lock_part.lua dates them, and the ones it posts next are also
-- marked as being posted for ARGV[1] ms, as posting.lua marks them. A replica that dies between the change
-- and drawing or posting leaves them to the sweep; a sweep never posts a part whose first post is under way.
-- KEYS: the dirty set, then the posting key of each part posted next. ARGV: posting ms, then the dirty-set
-- members of the parts posted next (in KEYS order), then those of the parts drawn next.
local dirty = KEYS[1]
local now = now_ms()
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[1])
end
for i = 2, #ARGV do
  redis.call('ZADD', dirty, 'LT', now, ARGV[i])
end
return 1
