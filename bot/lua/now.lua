-- The clock every script reads (now_ms: Redis TIME plus the sandbox's offset), for code outside the scripts.
-- The offset's key is passed so that a Cluster sends this to the node serving the bot's slot.
return now_ms()
