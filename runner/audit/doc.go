// Package audit is the local audit log: one row per authenticated call,
// proxied request, environment injection, secret resolution or change of a
// domain allowlist, kept in an embedded SQLite database (modernc.org/sqlite,
// pure Go) that only ever grows.
//
// # What a row holds
//
// An Event names what happened and never what was used: the time, the front
// end (Source), the agent identity ("anonymous", a declared id or
// "token:<token id>", never a raw token), workspace, project, environment,
// method, the target URL with every injected query parameter replaced by its
// key name (SanitizeURL), the key names and auth styles used, the status
// code, the duration, the decision with its reason, the number of
// redactions made in the response, and the allowlist state the call was
// decided by (below). Neither Event nor the stored row has a field that
// could hold a credential value, and the store is never given one.
// Strings are stored as valid UTF-8: an invalid sequence becomes U+FFFD
// before the row is hashed.
//
// # Allowlist state
//
// A row of a call with a target host (front ends call, proxy and mcp, all
// through the runner) records the domain allowlist at the moment its guard
// ran, so the log shows which list every decision was made under:
//
//   - allowlist_digest identifies the whole list: "sha256:" and the hex
//     SHA-256 of its entries sorted in byte order, without duplicates,
//     each followed by "\n" (DigestAllowlist). That is what
//     `agentsecrets workspace allowlist list` prints for a non-empty list,
//     so `agentsecrets workspace allowlist list | sha256sum` recomputes it;
//     an empty list gives the SHA-256 of nothing (sha256:e3b0c442...).
//     Refused calls carry it too.
//
//   - allowlist_entry is the entry that admitted the host, as the list
//     spells it ("api.stripe.com", "*.stripe.com"): the exact entry if
//     there is one, else the most specific wildcard. It is empty when the
//     allowlist refused the host (or a metadata host name was refused
//     before the list was consulted). A host the allowlist admitted keeps
//     its entry when a later step refuses the call: a binding, a policy,
//     or the dialer refusing the address the name resolved to.
//
// Both are empty in a row that had no target host (env, exec), whose call
// failed before the guard (a malformed target URL), and in every row
// written before the store recorded them. Both hold domain names or a
// hash of them, nothing secret. The digest identifies a list without
// saying what it held: to learn that, compare it with the digest of a
// list you have (the current one, a backup); a change of digest between
// two rows dates a change of the list, and the change's own row (below)
// says what the list became.
//
// # Allowlist changes
//
// Every change of a workspace's allowlist is a row of its own
// (AllowlistChange.Event; the vault hands the command line each change
// under its lock, once the change is saved, so rows follow the order of
// the changes): Source "allowlist", Method "ADD" or "REMOVE", the agent
// that made it ("anonymous" or a declared id; a change is typed by a human
// at a terminal, there is no token), the workspace, decision ok, no
// project, environment, URL or key. Its allowlist fields say what changed:
//
//   - allowlist_change: the domains added or removed, sorted;
//   - allowlist_before: the digest of the list before the change;
//   - allowlist_digest: the digest of the list after it (the list in
//     force from this row on, as in a call's row);
//   - allowlist_domains: the whole list after it, sorted, without
//     duplicates (absent when the change emptied it).
//
// Reading a workspace's rows from the start, with an empty list before the
// first change, each change row's allowlist_before is the digest of the
// list the rows before it left, its domains applied to that list give
// allowlist_domains, and each call's allowlist_digest is the digest of the
// list in force (ExampleAllowlistChange). allowlist_domains makes each
// change row stand alone: a list that existed before its first recorded
// change (a log begun by an older version), or one changed without a
// recorder (vault.Options.AllowlistChanged unset), is known again from the
// next change on, and the mismatch of allowlist_before shows where the gap
// was (Verify reports it: see Unrecorded changes). Changes are one row per
// confirmed command, whatever the number of domains, so they never crowd
// the log.
//
// # Schema
//
// The database is versioned with PRAGMA user_version and migrated in a
// write transaction by Open. Version 4:
//
//	segments(first_id INTEGER PRIMARY KEY, last_id, events TEXT) STRICT
//	chain_head(id = 1, last_id, hash) STRICT
//	events: a view, one row per event, with the columns id, time_ns,
//	        source, agent, workspace, project, environment, method, url,
//	        keys, auth_styles, status, duration_ns, decision, reason,
//	        redactions, allowlist_entry, allowlist_digest,
//	        allowlist_change, allowlist_before, allowlist_domains,
//	        prev_hash, hash
//
// A segment holds consecutive rows first_id..last_id as a JSON array of
// objects with the view's columns (keys, auth_styles, allowlist_change
// and allowlist_domains are arrays of names; the allowlist fields are
// present only when not empty, and the view shows an empty string, or an
// empty array, for an absent one). An append
// writes its rows as one segment (up to 256 rows; a larger batch is
// split), so a batch of the proxy's events costs one SQLite row rather
// than one per event: SQLite's per-row work, not the bytes, was what an
// audited request spent most on. The events view keeps
// the log readable row by row with any SQLite client
// (SELECT * FROM events WHERE agent = ...). Version 1 stored a table row
// per event; Open migrates such a database, each old row becoming a
// segment of one, hashes unchanged. Versions 3 and 4 only redefine the
// view, with the allowlist state and then the allowlist change columns;
// stored rows are untouched. (A program that predates a version refuses
// to open such a database rather than misreport its new rows as edited.) Triggers refuse UPDATE and DELETE on
// segments and DELETE on chain_head, so the store is append-only for every
// client that does not first drop them.
//
// Query and Verify read segments and filter in Go; Query reads newest
// first when only the last rows are wanted and stops when it has them.
//
// The database runs in WAL mode with synchronous=NORMAL and a busy timeout,
// and is safe for concurrent use by goroutines and by processes: each append
// takes the write lock (BEGIN IMMEDIATE), so ids are given in commit order
// and a reader polling by id (Watch) never misses a row. The WAL is
// persistent: the -wal and -shm files stay beside the database after the
// last connection closes, so a one-shot command opening the store to record
// one row does not create and delete them each time (see
// BenchmarkOpenRecordClose). The file and both companions are 0600 (SQLite
// gives the companions the database file's mode, which Open sets before
// SQLite first touches the file); a directory Open has to create is 0700,
// an existing one is left as it is.
//
// # Batching
//
// A long-running front end (the proxy) records through a Batcher: Record
// queues the event and returns, and one writer appends what has gathered
// in a single transaction as one segment, computing the chain row by row
// exactly as single appends do. The queue is bounded; when it
// is full, Record appends its own event before returning, so no event is
// ever dropped. Flush waits for what was queued before it; Close drains
// the queue. One-shot commands record to the Store directly.
//
// # Chain
//
// Rows are numbered 1, 2, 3, ... without gaps. Each row stores the hash of
// the row before it (prev_hash; 64 zero digits for row 1) and its own hash,
//
//	hash = hex(SHA-256(prev_hash bytes || canonical encoding of the row))
//
// where the canonical encoding is a version tag followed by the id and every
// field in a fixed order, strings and lists length-prefixed, integers
// big-endian, so no two different rows encode alike. A row without
// allowlist state is encoded under the tag agentsecrets-audit-chain-v1,
// exactly as before the state existed, so logs written earlier verify
// unchanged; a row with some (either field not empty) under
// agentsecrets-audit-chain-v2, which appends allowlist_entry and
// allowlist_digest to the version 1 fields; a row of an allowlist change
// (any of its three fields not empty) under agentsecrets-audit-chain-v3,
// which appends allowlist_change, allowlist_before and allowlist_domains to
// the version 2 fields. Editing, adding or removing any of these fields
// therefore changes the row's hash. chain_head records the
// last id and its hash and is updated in the same transaction as the insert.
//
// Verify walks the rows in id order and reports:
//
//   - a segment that is not a JSON array, or whose bounds are not its
//     first and last rows' ids: edited;
//
//   - an edited row: its stored hash no longer matches its content, or it
//     gives a field twice (the events view would show the first copy, the
//     chain covers the last);
//
//   - a row moved to another id: its content hashes under another id and
//     its prev_hash points at a row that is not its predecessor;
//
//   - a deleted row in the middle: a gap in the ids;
//
//   - a deleted last row (or several): chain_head names a later id than the
//     last row present;
//
//   - a re-hashed row: a row whose own hash is consistent but which the next
//     row (or chain_head) does not follow;
//
//   - a changed schema: a table, the events view or a trigger that is not
//     what Open creates (a view edited to hide or alter rows shows any
//     SQLite client a log that is not the one stored), a trigger missing,
//     or one added (it could alter rows as they are appended); other
//     tables, views and indexes are a reader's own and are not checked.
//
// Apart from these problems it reports the gaps in each allowlist's
// story (below).
//
// # Unrecorded changes
//
// A change of an allowlist made without its row leaves every row intact,
// so the chain verifies: a process killed between saving the list and
// writing the row, a row the log refused, a vault opened without a
// recorder (an older version, a tool), index.json edited by hand. Verify
// follows each workspace's allowlist through the rows (the workspace
// column) and reports what they show of such a change in
// VerifyResult.AllowlistGaps, apart from the chain's problems, whatever
// VerifyResult.OK says:
//
//   - a change row whose allowlist_before is not the allowlist_digest of
//     the workspace's previous change row: "allowlist changed without a
//     row between row X and row Y";
//
//   - after the workspace's first change row, a call whose
//     allowlist_digest is no list the log records for the workspace:
//     "allowlist changed without a row before row Y (row Y and N later
//     rows were decided by a list no change row records)", Y the first
//     such call, once per list. The lists the log records are every
//     allowlist_before and allowlist_digest of the workspace's change
//     rows, wherever they stand in the log, and the lists its calls
//     carried before its first change row.
//
// The call rule is loose on purpose, so that normal operation never shows
// a gap. A front end reads the list when it starts and when told to (the
// proxy at start and on `agentsecrets proxy sync`), so after a change,
// until it reads again, its rows carry the list before the change: a true
// account of the list it used, which the change row records as
// allowlist_before, and that of an earlier change if several came since.
// A call may also read the list a change has just saved and write its row
// before the change's own. What the rule catches is calls decided by a
// list that no row records: a change without a row, with calls after it
// and no recorded change since. Once a change is recorded, its
// allowlist_before records that list and the first rule reports the gap
// instead, once. Before a workspace's first change row nothing is checked
// (a log begun by a version that did not record changes, a list set
// before the log existed): a log without change rows has no gap, the
// first change row may start from any list, and the lists calls carried
// then stay valid for a front end started then.
//
// A gap names rows, never a domain or a digest. Deleting a change row
// makes one too, besides the missing row. Unseen: a change without a row
// undone, without a row, before any call used it or any change was
// recorded; calls under a list the log records elsewhere, until the next
// recorded change; anything before a workspace's first change row.
//
// # Limits
//
// With synchronous=NORMAL a committed row survives a killed process but the
// last rows before a power loss or kernel crash may be lost; the chain stays
// consistent either way, since a row and the chain head commit together.
//
// The chain is tamper-evident, not tamper-proof. It is kept by the same user
// account that runs the tool, with no secret key and no copy elsewhere, so
// someone who can write the file can drop the triggers, rewrite every row
// from the first edited one onwards, recompute the hashes, update
// chain_head and put the triggers back, and Verify will find nothing
// (deleting the newest rows and winding chain_head back to the new last
// row is enough); replacing the whole file with an
// older copy, or deleting it, is likewise undetected. What the chain does
// catch is a partial edit: a changed, removed or reordered row left with the
// rest of the log as it was. Anchoring the head hash outside the machine (a
// sync server) is what closes the gap.
package audit
