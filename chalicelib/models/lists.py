"""The CRM objects' write-time list index (lists, name search, nearby).

Visibility is decided when an object is written, as for the feed: every object is copied
into the partitions of the users who may see it, so a list page is one key-condition Query
that never filters anything out, plus one BatchGet of the objects.

- ``ListEntry``: ``PK = T#t#LIST#<viewer>#<TYPE>#<scope>#<L|X>#<filters>`` with
  ``SK = U#<updated_at>#<version>#<id>`` (``sort=updated``, read in reverse; the object's
  version makes the key name the revision copied, so two writes in one second, a rename
  say, never leave an entry that looks current but is not) and the same partition
  in GSI1 with ``GSI1SK = <search key>\\x01<id>`` (``sort=name``; ``q`` is a range on the
  search key). ``scope`` is ``mine`` / ``team`` / ``all``; ``L`` holds live objects, ``X``
  archived ones; ``filters`` is ``-`` or a canonical set of ``owner_id``, ``account_id``,
  ``stage`` values (one partition per subset of the object's filter values, so every
  filter combination is a key, never a post-read filter).
- Every partition above takes an index-shard suffix (``#<s>``, models/shards.py) in a
  tenant whose ``index_shards`` is above 1: an object's entries go to
  ``spread(<object id>, n)``; shard 0 is the unsharded key. ``ListIndexState`` records the
  full keys, so a re-index after a raise deletes exactly what was written.
- ``GeoEntry``: ``PK = T#t#GEO#<viewer>``, ``SK = <geohash, 12 chars>#<id>``: a located,
  live account in the range of each viewer (``*`` for admins); a geohash cell of any
  precision is one ``begins_with`` Query, and a cell of any bit depth (a quadtree cell:
  the bits below a character are a run of consecutive characters, base 32 being in
  character order) one ``BETWEEN`` (``GeoEntry.in_cell``).
- ``ListIndexState``: ``PK = <object partition>``, ``SK = LISTIDX``: the keys of every
  entry that may exist for the object (a superset while ``state == pending``), so a
  re-index deletes the stale ones (same protocol as ``Activity.indexed``); ``claim`` names
  the re-index run holding a pending state, so that run's own retry resumes it.
"""

from __future__ import annotations

import unicodedata
from typing import Optional
from urllib.parse import quote

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.models.base import BaseItem, tkey
from chalicelib.models.crm import TYPE_CODES, object_pk
from chalicelib.models.shards import pk_suffix

LIST_SCOPES = ("mine", "team", "all")
LIVE, ARCHIVED = "L", "X"
NAME_SEP = "\x01"  # below every character a search key keeps
NAME_TOP = "\U0010ffff"  # above every character
UPDATED_PREFIX = "U#"
UPDATED_TOP = f"{UPDATED_PREFIX}~"  # above every updated-order sort key
LIST_STATE_SK = "LISTIDX"
GEOHASH_LEN = 12
GEO_TOP = "~"  # above every geohash character and the "#" before the id
SEARCH_KEY_BYTES = 600  # a GSI sort key holds 1,024 bytes; NFKC may expand a name (x18)


def search_key(text: str) -> str:
    """Case- and width-insensitive key in any script: NFKC, casefold, NFKC again, without
    control characters; CJK stays as typed (``"ＡＢＣ Ltd"`` and ``"abc ltd"`` meet)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    key = "".join(ch for ch in folded if unicodedata.category(ch) not in ("Cc", "Cs")).strip()
    return key.encode("utf-8")[:SEARCH_KEY_BYTES].decode("utf-8", "ignore")


def filter_part(filters: dict[str, str]) -> str:
    if not filters:
        return "-"
    return ",".join(f"{k}={quote(v, safe='')}" for k, v in sorted(filters.items()))


def list_pk(tenant_id: str, viewer: str, object_type: str, scope: str, state: str, filters: dict[str, str]) -> str:
    """A viewer's list partition, shard 0; shard ``s`` of it is ``list_pk(...) +
    pk_suffix(s)`` (models/shards.py; ``#`` is quoted in filters, so the suffix is unambiguous)."""
    return tkey(tenant_id, "LIST", viewer, TYPE_CODES[object_type], scope, state, filter_part(filters))


def geo_pk(tenant_id: str, viewer: str, shard: int = 0) -> str:
    return tkey(tenant_id, "GEO", viewer) + pk_suffix(shard)


class ListEntry(BaseItem, discriminator="ListEntry"):
    object_type = UnicodeAttribute()
    object_id = UnicodeAttribute()
    partition = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    revision = NumberAttribute(default=0)  # the object's version when copied
    name_key = UnicodeAttribute()

    def set_keys(self) -> None:
        self.PK = self.GSI1PK = self.partition
        self.SK = f"{UPDATED_PREFIX}{self.updated_at}#{int(self.revision):010d}#{self.object_id}"
        self.GSI1SK = f"{self.name_key}{NAME_SEP}{self.object_id}"

    def full_range_viewer(self) -> Optional[str]:
        """The viewer when this entry is in a whole visible range (scope ``all``, live, no
        filter: what offline sync mirrors), else None."""
        prefix = tkey(self.tenant_id, "LIST", "")
        if not self.partition.startswith(prefix):
            return None
        viewer, _code, scope, state, filters = (self.partition[len(prefix) :].split("#") + [""] * 5)[:5]
        return viewer if (scope, state, filters) == ("all", LIVE, filter_part({})) else None

    @classmethod
    def full_range_key(
        cls, tenant_id: str, viewer: str, ref: tuple[str, str], updated_at: str, revision: int, shard: int = 0
    ) -> tuple[str, str]:
        """The key of the viewer's whole-range entry for an object (``(type, id)``) at this
        revision, in an index shard."""
        object_type, object_id = ref
        entry = cls(
            tenant_id=tenant_id,
            object_type=object_type,
            object_id=object_id,
            partition=list_pk(tenant_id, viewer, object_type, "all", LIVE, {}) + pk_suffix(shard),
            updated_at=updated_at,
            revision=revision,
            name_key="",
        )
        entry.set_keys()
        return entry.PK, entry.SK

    @classmethod
    def full_range_page(
        cls, tenant_id: str, viewer: str, object_type: str, after: Optional[str], n: int, shard: int = 0
    ) -> list:
        """One Query: up to ``n`` entries of the viewer's whole live range of a type in an
        index shard, newest first, strictly after the sort key ``after``."""
        return cls.newest_page(list_pk(tenant_id, viewer, object_type, "all", LIVE, {}) + pk_suffix(shard), after, n)

    @classmethod
    def newest_page(cls, pk: str, after: Optional[str], n: int) -> list:
        """One Query: up to ``n`` entries of the partition ``pk``, most recently updated
        first, strictly after the sort key ``after``."""
        results = cls.query(
            pk,
            cls.SK.between(UPDATED_PREFIX, after or UPDATED_TOP),
            scan_index_forward=False,
            consistent_read=True,
            limit=n + 1,
            page_size=n + 1,
        )
        return [e for e in results if e.SK != after][:n]  # noqa: SIM300 - attribute, not a constant


class GeoEntry(BaseItem, discriminator="GeoEntry"):
    viewer = UnicodeAttribute()
    object_id = UnicodeAttribute()
    geohash = UnicodeAttribute()
    lat = NumberAttribute()
    lng = NumberAttribute()
    shard = NumberAttribute(null=True)  # the partition's shard (None: 0, the unsharded key)

    def set_keys(self) -> None:
        self.PK = geo_pk(self.tenant_id, self.viewer, int(self.shard or 0))
        self.SK = f"{self.geohash}#{self.object_id}"

    @classmethod
    def in_cell(cls, pk: str, lo: str, hi: str, limit: int, after: Optional[GeoEntry] = None) -> list[GeoEntry]:
        """One Query: up to ``limit`` entries of the partition whose geohash starts with a
        string from ``lo`` to ``hi`` (same length), in key order, strictly after ``after``."""
        condition = cls.SK.startswith(lo) if lo == hi else cls.SK.between(lo, hi + GEO_TOP)
        results = cls.query(
            pk,
            condition,
            consistent_read=True,
            limit=limit,
            page_size=limit,
            last_evaluated_key=after.start_key() if after is not None else None,
        )
        return list(results)


class ListIndexState(BaseItem, discriminator="ListIndexState"):
    object_type = UnicodeAttribute()
    object_id = UnicodeAttribute()
    keys = UnicodeSetAttribute(null=True)  # {"<PK>\x1f<SK>"}
    state = UnicodeAttribute(default="pending")  # pending | ok
    rev = NumberAttribute(default=0)
    claim = UnicodeAttribute(null=True)  # the run holding a pending state
    digest = UnicodeAttribute(null=True)  # what the entries carry besides their partition (ok only)

    def set_keys(self) -> None:
        self.PK, self.SK = object_pk(self.tenant_id, self.object_type, self.object_id), LIST_STATE_SK

    @classmethod
    def key_of(cls, tenant_id: str, object_type: str, object_id: str) -> tuple[str, str]:
        return object_pk(tenant_id, object_type, object_id), LIST_STATE_SK

    @classmethod
    def fetch(cls, tenant_id: str, object_type: str, object_id: str) -> Optional[ListIndexState]:
        """The object's index state, read consistently (a re-index resumes from it)."""
        return cls.lookup(cls.key_of(tenant_id, object_type, object_id), consistent_read=True)


__all__ = [
    "LIST_SCOPES",
    "LIVE",
    "ARCHIVED",
    "NAME_SEP",
    "NAME_TOP",
    "UPDATED_PREFIX",
    "UPDATED_TOP",
    "LIST_STATE_SK",
    "GEOHASH_LEN",
    "GEO_TOP",
    "SEARCH_KEY_BYTES",
    "search_key",
    "filter_part",
    "list_pk",
    "geo_pk",
    "ListEntry",
    "GeoEntry",
    "ListIndexState",
]
