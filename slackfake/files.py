"""Files: the files_upload_v2 flow (files.getUploadURLExternal, an upload to its URL, then
files.completeUploadExternal) and files.info."""

from __future__ import annotations

import copy
import time
from typing import Any

from slackfake.webapi import SlackError, WebApi, id_list, integer
from slackfake.workspace import BOT_USER, WORKSPACE_URL, Message


class FilesApi(WebApi):
    @staticmethod
    def _file_api(record: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in record.items() if k not in ("content", "length")} | {
            "size": len(record["content"]) if record.get("content") is not None else record["length"]}

    def api_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        if not isinstance(filename, str) or not filename:
            raise SlackError("invalid_arguments", detail="filename is required")
        length = integer(args.get("length"), -1)
        if length < 0:
            raise SlackError("invalid_arguments", detail="length is required")
        fid = self._new_id("F")
        self.files[fid] = {"id": fid, "created": int(time.time()), "name": filename, "title": filename,
                           "mimetype": "", "filetype": filename.rpartition(".")[2] if "." in filename else "",
                           "user": BOT_USER, "length": length, "alt_txt": args.get("alt_txt"),
                           "url_private": f"{self.root}/files/{fid}",
                           "permalink": f"{WORKSPACE_URL}files/{BOT_USER}/{fid}/{filename}",
                           "channels": [], "groups": [], "ims": [], "completed": False, "content": None}
        return {"upload_url": f"{self.root}/upload/{fid}", "file_id": fid}

    def api_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments", detail="files must be a JSON array of {id, title}")
        records = []
        for item in items:
            record = self.files.get(str(item.get("id"))) if isinstance(item, dict) else None
            if record is None or record["content"] is None:
                raise SlackError("file_not_found")  # unknown id, or nothing was uploaded to its URL
            records.append((record, item))
        channels = [self._channel(c) for c in id_list(args.get("channels")) or id_list(args.get("channel_id"))]
        for ch in channels:
            self._writable(ch, public_ok=True)
        for record, item in records:
            record["completed"] = True
            if item.get("title"):
                record["title"] = item["title"]
        shared = [self._file_api(r) for r, _ in records]
        for ch in channels:
            msg = Message(self._next_ts(), ch.id, str(args.get("initial_comment") or ""),
                          thread_ts=args.get("thread_ts") or None, files=copy.deepcopy(shared))
            ch.messages.append(msg)
            for record, _ in records:
                record["groups" if ch.is_private else "channels"].append(ch.id)
                record.setdefault("shares", []).append({"channel": ch.id, "ts": msg.ts})
        return {"files": [self._file_api(r) for r, _ in records]}

    def api_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        record = self.files.get(str(args.get("file")))
        if record is None or not record["completed"]:
            raise SlackError("file_not_found")
        return {"file": self._file_api(record), "comments": [], "response_metadata": {"next_cursor": ""}}
