//go:build (dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd

package keychain

import (
	"fmt"
	"maps"
	"slices"

	dbus "github.com/godbus/dbus/v5"
	ss "github.com/zalando/go-keyring/secret_service"
)

// Secret Service names used beyond what go-keyring's ss package wraps.
const (
	ssService          = "org.freedesktop.secrets"
	ssServiceInterface = "org.freedesktop.Secret.Service"
	ssSearchItems      = "org.freedesktop.Secret.Collection.SearchItems"
	ssGetSecrets       = ssServiceInterface + ".GetSecrets"
)

func init() { probeKeychain = secretServiceProbe }

// secretServiceProbe checks that the Secret Service runs and has the
// collection go-keyring writes to, by reading its Locked property: unlike a
// lookup, this never waits on an unlock prompt, so a locked keychain is
// found (and its reads later fail with ErrUnavailable) instead of looking
// absent.
func secretServiceProbe() error {
	svc, err := ss.NewSecretService()
	if err != nil {
		return err
	}
	_, err = svc.GetLoginCollection().GetProperty("org.freedesktop.Secret.Collection.Locked")
	return err
}

// GetMany reads refs from the Secret Service, up to maxBatch of them per
// session and per timeout. It finds items exactly as go-keyring's Get does
// (attributes "service" and "username" in the login collection, the first
// match), so it reads what Set wrote.
func (k *osKeychain) GetMany(refs []Ref) (map[Ref][]byte, error) {
	if err := validateAll(refs); err != nil {
		return nil, err
	}
	values := make(map[Ref][]byte, len(refs))
	for chunk := range slices.Chunk(refs, maxBatch) {
		got, err := withTimeout(k.timeout, func() (map[Ref][]byte, error) {
			return secretServiceGetMany(chunk)
		})
		if err != nil {
			return nil, errorf(ErrUnavailable, "keychain: get %d values: OS keychain unavailable: %v (unlock the keychain or start a Secret Service such as gnome-keyring; AGENTSECRETS_BACKEND=file keeps values in an encrypted file instead, without those stored here)", len(chunk), err)
		}
		maps.Copy(values, got)
	}
	return values, nil
}

// secretServiceGetMany costs a handful of round trips whatever the number
// of refs: open a session and find the login collection, unlock it, send
// every search before reading any answer, fetch every secret found with one
// GetSecrets.
func secretServiceGetMany(refs []Ref) (map[Ref][]byte, error) {
	svc, err := ss.NewSecretService()
	if err != nil {
		return nil, err
	}
	opening := svc.Object(ssService, "/org/freedesktop/secrets").Go(ssServiceInterface+".OpenSession", 0, nil, "plain", dbus.MakeVariant(""))
	collection := svc.GetLoginCollection()
	var session dbus.ObjectPath
	var disregard dbus.Variant
	if err := (<-opening.Done).Store(&disregard, &session); err != nil {
		return nil, err
	}
	defer svc.Close(svc.Object(ssService, session))
	if err := svc.Unlock(collection.Path()); err != nil {
		return nil, err
	}
	items, err := searchAll(collection, refs)
	if err != nil {
		return nil, err
	}
	return readSecrets(svc, session, items)
}

// searchAll finds the item of each distinct ref, pipelining the searches
// on the connection. Refs without an item are left out.
func searchAll(collection dbus.BusObject, refs []Ref) (map[Ref]dbus.ObjectPath, error) {
	calls := make(map[Ref]*dbus.Call, len(refs))
	for _, ref := range refs {
		if calls[ref] != nil {
			continue
		}
		search := map[string]string{"username": ref.Account(), "service": ServiceName}
		calls[ref] = collection.Go(ssSearchItems, 0, nil, search)
	}
	items := make(map[Ref]dbus.ObjectPath, len(calls))
	var firstErr error
	for ref, call := range calls {
		var found []dbus.ObjectPath
		err := (<-call.Done).Store(&found)
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = fmt.Errorf("search %q: %v", ref.Account(), err)
			}
		case len(found) > 0:
			items[ref] = found[0]
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return items, nil
}

// readSecrets gets the secrets of items with one GetSecrets call. An item
// it leaves out (one still locked) is unlocked and read alone, as
// go-keyring's Get would.
func readSecrets(svc *ss.SecretService, session dbus.ObjectPath, items map[Ref]dbus.ObjectPath) (map[Ref][]byte, error) {
	values := make(map[Ref][]byte, len(items))
	if len(items) == 0 {
		return values, nil
	}
	paths := make([]dbus.ObjectPath, 0, len(items))
	for _, p := range items {
		paths = append(paths, p)
	}
	var secrets map[dbus.ObjectPath]ss.Secret
	err := svc.Object(ssService, "/org/freedesktop/secrets").Call(ssGetSecrets, 0, paths, session).Store(&secrets)
	if err != nil {
		return nil, err
	}
	for ref, p := range items {
		if s, ok := secrets[p]; ok {
			values[ref] = s.Value
			continue
		}
		if err := svc.Unlock(p); err != nil {
			return nil, fmt.Errorf("unlock %q: %v", ref.Account(), err)
		}
		s, err := svc.GetSecret(p, session)
		if err != nil {
			return nil, fmt.Errorf("get %q: %v", ref.Account(), err)
		}
		values[ref] = s.Value
	}
	return values, nil
}
