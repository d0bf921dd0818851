// Package storage is Pagebridge's store: one bbolt file holding messages,
// the directory, local accounts, escalation timers, the outbox, agents' job
// results and a tamper-evident audit log. It implements paging.Store and is
// the only package that imports bbolt. It also keeps the hardware agent's
// spool, a second, smaller file of the agent's own ([Spool]).
//
// Main types and functions:
//
//   - [Store], from [Open]: every method is safe for concurrent use. Writes
//     go through one commit loop (group commit, see [Store.Accept]);
//     reads use bbolt read transactions beside it, except [Store.PagerID]
//     and [Store.PagerIDs], which read an in-memory copy of the pager IDs
//     (loaded at Open, replaced after each commit that changes them).
//   - [Keyring]: the key-encryption keys (KEKs), from a key file kept
//     outside the data directory ([LoadKeyring], [CreateKeyring]); and the
//     audit HMAC key ([LoadAuditKey], [CreateAuditKey]).
//   - [RotateKEK]: replace the KEK, crash-safe step by step.
//   - [Store.VerifyAudit], [VerifyAuditFile]: check the audit chain; a
//     failure is an [*AuditError] naming the seq. [Store.PruneAudit] applies
//     the retention.
//   - [Store.Backup], [Store.BackupTo], [Store.BackupFile], [BackupClosed]
//     and [Restore].
//   - [Store.RecordJobResult]: an agent's report of a job, the first per
//     job kept, audited as "job.result".
//   - [Spool], from [OpenSpool]: the agent's jobs from the gateway (with
//     their in-flight state, so a restart knows which were on a device) and
//     its outgoing items (results, inbound pages) until the gateway acks
//     them, with the keys it has finished or had acked remembered for
//     dedupe ([Spool.PruneSeen] forgets them). It shares the Store's commit
//     loop and sealer: its writes group-commit and its payloads are sealed
//     under the agent's own keyring.
//
// # Layout on disk
//
// Buckets: meta (schema version, audit head, prune anchor, audit key
// check), keys (data keys, wrapped), messages, audit, people, roles,
// groups, pagerids, accounts, timers and outbox, each of the last two with
// a due-time index bucket, jobresults, the threads' buckets (threads.go),
// the chunks of their attachments, thread.attachments (attachments.go),
// and web sign-in's account.security, sessions and sessions.user
// (accounts.go). Schema changes are numbered
// migrations run at Open, after a backup of the file as it was.
//
// A spool file has its own buckets and schema steps (see spool.go), and
// "kind" in its meta bucket says it is a spool: Open refuses a spool and
// OpenSpool refuses the gateway's store, with [ErrNotDatabase].
//
// # Encryption at rest
//
// PHI (message text, outbox payloads) is sealed with AES-256-GCM before it
// reaches bbolt, under a data key (DEK) named in the value's header; the
// additional data binds each value to its bucket, key and field, so values
// cannot be swapped between records. Data keys are random, stored wrapped
// (AES-256-GCM) under the active KEK, a new one at each Open and after
// 2^20 values. Open unwraps them all, so a wrong key file fails there with
// [ErrWrongKey]. Staff records and accounts are not PHI and are plain JSON.
//
// # Audit chain
//
// Entries are keyed by seq; each carries the hash of the one before, its
// own hash over its fields, and an HMAC of (seq, hash) under the audit key.
// The head (last seq and hash) is HMAC-signed with a different prefix, so
// an entry's MAC never passes as a head's. Pruning leaves a signed anchor
// where the chain now begins.
//
// A head that does not verify at Open (rewritten by someone without the
// key, to hide a truncation say) does not stop the store: paging goes on.
// Open logs a warning and appends an "audit.head.invalid" entry naming the
// seq the head claimed, then continues the chain, so the break stays on
// record inside the signed chain: verify reports such a chain as broken,
// naming the first seq that was lost, and so PruneAudit deletes nothing
// from it until it is investigated.
//
// # Caveats
//
//   - The freelist is not written at commit (bbolt's NoFreelistSync, as etcd
//     runs it): Open scans the file to rebuild it, which takes longer the
//     larger the file.
//   - The bbolt file never shrinks: deleted messages, pruned audit entries
//     and sent outbox items leave free pages that are reused, not returned
//     to the file system. Compacting means copying into a new file with
//     the daemon stopped.
//   - A backup or restore holds a read transaction for the whole copy.
//     Long read transactions keep bbolt from reusing pages and can make a
//     write that must grow the file wait; copy to a fast local disk.
//   - The audit chain can be replayed: someone who kept a genuine older
//     copy of the file can put it back, with its validly signed older
//     head, and the file on its own still verifies. Only a head recorded
//     elsewhere shows it, which is why the gateway logs [Store.AuditHead]
//     to the system log. Likewise, whoever holds the audit key can rewrite
//     the chain; keep that key out of the data directory and its backups.
//   - Backups taken before [RotateKEK] still need the old KEK. Keep retired
//     keys in escrow as long as such backups are kept.
//   - Keys live in process memory while the store is open; Go offers no
//     reliable way to wipe them.
//   - Power loss during the very first initialisation of a new file can
//     leave it unusable (a bbolt limitation); there is nothing in it then,
//     so delete it and start again.
//   - bbolt allows one process per file. The daemon holds it; the tools
//     that work on a stopped store ([VerifyAuditFile], [BackupClosed],
//     [Restore]) fail with [ErrLocked] while it runs.
//   - An attachment has a data key of its own, sealed in its message's
//     record; deleting the message does not crypto-erase it (the record's
//     old page may linger in free pages, its key sealed under a store data
//     key that lives on). Search (search.go) opens texts in memory; there
//     is no index of them on disk.
//   - Audit entries, staff records and job results are not encrypted: an
//     AuditEvent's Detail, and a JobResult's Code and Note, must never hold
//     PHI.
//   - The spool keeps no audit chain (the agent holds no PHI store of
//     record), and [RotateKEK] works on a Store only: the agent's keyring
//     cannot be rotated in place yet.
//   - The spool remembers a finished job's key, or an acked item's, until
//     [Spool.PruneSeen] forgets it; a redelivery after that is taken as new.
//     Run PruneSeen with the real time, now and then: its SeenFor must be
//     longer than the bus can hold a message back.
//   - ext4 with fast_commit has corrupted bbolt files on some kernels (bbolt
//     README, "Known Issues"): check the appliance's kernel before turning
//     fast_commit on.
package storage
