// Package keychain stores secret values, one item per (workspace, project,
// environment, key), in the operating system's keychain or, where none
// answers, in a passphrase-encrypted file. Nothing else of the vault holds a
// value.
//
// # Backends
//
// The "keychain" backend goes through github.com/zalando/go-keyring: the
// Secret Service over D-Bus on Linux and the BSDs (gnome-keyring, KWallet),
// the macOS Keychain, the Windows Credential Manager. Items use the service
// name "agentsecrets" and the account Ref.Account(). Every call runs under a
// timeout, because a Secret Service that never answers (a locked collection
// waiting on a prompt nobody sees, a bus that accepts and stays silent)
// would otherwise hang the caller. On Linux, when no session bus address is
// known, the backend reports itself unavailable instead of letting D-Bus
// launch a new bus. Check looks up an item that is never stored, which
// unlocks the login collection as a Delete would: a keychain locked (an
// unlock prompt nobody answers) or not answering is ErrUnavailable there,
// for callers that change other files before they remove values. A backend
// with no Check of its own (the in-memory one of tests, a test double) is
// checked the same way: any answer but ErrNotFound is its refusal.
//
// The "file" backend keeps every item in Dir/vault.enc (mode 0600), each
// value sealed with AES-256-GCM under a key derived by Argon2id from a
// passphrase. There is no plaintext or merely encoded fallback.
//
// # Batch reads
//
// GetMany reads many refs at once from any backend: a missing ref is absent
// from the result, any other failure fails the batch. Backends that can do
// better than one Get per ref implement BatchGetter. On the Secret Service
// one Get costs about seven D-Bus round trips; GetMany opens one session,
// unlocks the login collection once, sends the searches for every ref
// (attributes "service" and "username", as go-keyring writes them) before
// reading any answer, and fetches every secret found with a single
// GetSecrets call, under one timeout per maxBatch refs. An item the
// service leaves out of GetSecrets because it is locked is unlocked and
// read alone. The file backend reads and checks its file once. Elsewhere
// (the macOS Keychain, the Windows Credential Manager) GetMany calls Get for
// each ref.
//
// # Selection
//
// Open with Kind "" probes the keychain (KeychainAvailable) and takes it if
// it answers within the timeout, the file otherwise. Kind "keychain" or
// "file" forces one; callers take it from AGENTSECRETS_BACKEND or from the
// saved configuration, and should save the automatic choice so that later
// runs keep using the same backend.
//
// # The encrypted file
//
// vault.enc is JSON: a KDF header (algorithm, salt, Argon2id parameters), a
// check blob that tells a wrong passphrase (ErrBadPassphrase) apart from a
// damaged item, a sequence number, and the items by account, each a version
// and a sealed blob. The associated data of each blob binds it to its
// workspace, project, environment, key and version, so a blob edited, moved
// to another account or given another version fails with ErrTampered.
//
// The passphrase is asked for lazily, at most once per backend, and only
// when a value must be sealed or opened; the derived key is cached for the
// life of the process. Every read-modify-write runs under an exclusive lock
// on Dir/.vault.lock and re-reads the file inside it, and the file is
// replaced atomically, so concurrent processes lose no write and a killed
// process leaves the last committed state. Check tells, without touching a
// value, whether the file would refuse every write (a wrong passphrase,
// none, a file that does not parse), for callers that change other files
// before they write here.
//
// # Errors
//
// Errors never contain a value. Callers branch on ErrNotFound,
// ErrUnavailable, ErrNoPassphrase, ErrBadPassphrase and ErrTampered.
package keychain
