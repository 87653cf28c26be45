package vault

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/The-17/agentsecrets/vault/fsutil"
)

// AgentsFile is the file in the home directory that holds agent identities
// and the SHA-256 of their tokens, never a token.
const AgentsFile = "agents.json"

// TokenPrefix starts every agent token; TokenIDPrefix every token id.
const (
	TokenPrefix   = "ast_"
	TokenIDPrefix = "tok_"
)

// agentsVersion is the schema version of agents.json.
const agentsVersion = 1

// tokenBytes is the randomness of a token; tokenLen the length of its text.
const (
	tokenBytes = 32
	tokenLen   = len(TokenPrefix) + 43 // base64url of 32 bytes, unpadded
)

// Sentinel errors of agent identities, for errors.Is.
var (
	// ErrAgentNotFound: no agent of that name in the workspace.
	ErrAgentNotFound = errors.New("vault: agent not found")
	// ErrTokenUnknown: no token of that id, or a token nobody issued.
	ErrTokenUnknown = errors.New("vault: unknown agent token")
	// ErrTokenRevoked: the token was issued and has been revoked.
	ErrTokenRevoked = errors.New("vault: agent token revoked")
)

// isAgentName matches ^[a-z0-9_-]{1,64}$ (see isProjectName for why it is
// not a regular expression).
func isAgentName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// isTokenID matches ^tok_[0-9a-f]{12}$.
func isTokenID(s string) bool {
	if len(s) != len(TokenIDPrefix)+12 || !strings.HasPrefix(s, TokenIDPrefix) {
		return false
	}
	for i := len(TokenIDPrefix); i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// holdsToken reports whether s holds an agent token anywhere: TokenPrefix
// and the 43 base64url characters of one (" ast_…", "Bearer ast_…"), so
// that an error never repeats it.
func holdsToken(s string) bool {
	for {
		i := strings.Index(s, TokenPrefix)
		if i < 0 {
			return false
		}
		s = s[i+len(TokenPrefix):]
		n := 0
		for n < len(s) && isBase64URL(s[n]) {
			n++
		}
		if n >= tokenLen-len(TokenPrefix) {
			return true
		}
	}
}

func isBase64URL(c byte) bool { return isASCIIAlnum(c) || c == '-' || c == '_' }

const agentNameHint = "agent names are 1-64 lowercase letters, digits, '-' and '_', not starting with \"ast_\" (billing-tool, ci_bot)"

// ValidateAgentName accepts 1-64 lowercase letters, digits, '-' and '_',
// not starting with "ast_". A refused name is never repeated (a value may
// be typed where the name goes): one that looks like a token says so, any
// other gives its length and what is wrong with it.
func ValidateAgentName(name string) error {
	switch {
	case strings.HasPrefix(name, TokenPrefix):
		return newError(ErrInvalid, "pass the agent's name, not its token", "invalid agent name: it looks like an agent token")
	case isAgentName(name):
		return nil
	case holdsToken(name):
		return newError(ErrInvalid, "pass the agent's name, not its token", "invalid agent name: it holds an agent token")
	}
	fault := "it holds characters other than lower-case letters, digits, '-' and '_'"
	switch {
	case name == "":
		fault = "it is empty"
	case len(name) > 64:
		fault = "it is longer than 64 bytes"
	}
	return newError(ErrInvalid, agentNameHint, "invalid agent name %s: %s", Characters(name), fault)
}

// ValidateTokenID accepts token ids as IssueToken makes them: "tok_" and
// 12 lowercase hex digits. A refused id is never repeated: a token given
// in place of its id says so, anything else gives its length.
func ValidateTokenID(id string) error {
	const hint = "token ids look like tok_0123456789ab; see agentsecrets agent token list NAME"
	switch {
	case strings.HasPrefix(id, TokenPrefix):
		return newError(ErrInvalid, hint, "invalid token id: that is a token, not its id")
	case isTokenID(id):
		return nil
	case holdsToken(id):
		return newError(ErrInvalid, hint, "invalid token id: it holds a token, not its id")
	}
	return newError(ErrInvalid, hint, "invalid token id %s: not tok_ and 12 lower-case hex digits", Characters(id))
}

// ValidateDeclaredAgent checks an identity a caller declares for itself
// (X-AS-Agent-ID, call --agent, $AGENTSECRETS_AGENT_ID), which the audit
// log records unchecked: it may not pass for a verified token identity
// ("token:…", in any case) nor start with or hold an agent token, which
// would put the token in the audit log. The error never repeats the id.
func ValidateDeclaredAgent(id string) error {
	switch {
	case len(id) >= len("token:") && strings.EqualFold(id[:len("token:")], "token:"):
		return newError(ErrInvalid, "a declared identity cannot start with \"token:\"; send the token as X-AS-Agent-Token instead",
			"invalid agent id: \"token:\" is reserved for verified agent tokens")
	case strings.HasPrefix(id, TokenPrefix) || holdsToken(id):
		return newError(ErrInvalid, "send an agent token as X-AS-Agent-Token, never as the agent id",
			"invalid agent id: it holds an agent token")
	}
	return nil
}

// AgentInfo describes an agent: its name, when it was created and how many
// of its tokens are active and revoked.
type AgentInfo struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Active  int       `json:"active_tokens"`
	Revoked int       `json:"revoked_tokens"`
}

// TokenInfo describes an issued token: its id and times, never the token
// or its hash.
type TokenInfo struct {
	ID      string     `json:"id"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// IssuedToken is a token just issued. Token is the only copy of the raw
// token anywhere: the vault keeps its SHA-256 alone.
type IssuedToken struct {
	Agent   string    `json:"agent"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Token   Secret    `json:"-"`
}

// agentsDoc is agents.json: workspace -> agent name -> agent.
type agentsDoc struct {
	Version    int                                `json:"version"`
	Workspaces map[string]map[string]*agentRecord `json:"workspaces"`
}

type agentRecord struct {
	Created time.Time      `json:"created"`
	Tokens  []*tokenRecord `json:"tokens"`
}

type tokenRecord struct {
	ID      string     `json:"id"`
	SHA256  string     `json:"sha256"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

func (t *tokenRecord) info() TokenInfo {
	return TokenInfo{ID: t.ID, Created: t.Created, Revoked: t.Revoked}
}

func readAgents(path string) (*agentsDoc, error) {
	doc := &agentsDoc{Version: agentsVersion, Workspaces: map[string]map[string]*agentRecord{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read %q: %w", path, err)
	}
	if err := json.Unmarshal(data, doc); err != nil {
		return nil, newError(ErrInvalid, "the file holds no tokens, only their hashes; remove it and issue new tokens",
			"malformed agents file %q: %v", path, err)
	}
	if doc.Version != agentsVersion {
		return nil, newError(ErrInvalid, "upgrade agentsecrets", "agents file %q has unknown version %d", path, doc.Version)
	}
	if doc.Workspaces == nil {
		doc.Workspaces = map[string]map[string]*agentRecord{}
	}
	for _, agents := range doc.Workspaces {
		for _, a := range agents {
			if a == nil || slices.Contains(a.Tokens, nil) {
				return nil, newError(ErrInvalid, "the file holds no tokens, only their hashes; remove it and issue new tokens",
					"malformed agents file %q: null agent or token", path)
			}
		}
	}
	return doc, nil
}

// agents reads the active workspace's agents without the lock (the file is
// replaced atomically).
func (s *Store) agents() (map[string]*agentRecord, error) {
	ws, err := s.Workspace()
	if err != nil {
		return nil, err
	}
	doc, err := readAgents(s.path(AgentsFile))
	if err != nil {
		return nil, err
	}
	return doc.Workspaces[ws], nil
}

// editAgents runs edit on the active workspace's agents under the lock,
// re-read inside it, and writes the file back if it changed.
func (s *Store) editAgents(edit func(agents map[string]*agentRecord) error) error {
	ws, err := s.Workspace()
	if err != nil {
		return err
	}
	unlock, err := fsutil.Lock(s.path(LockFile))
	if err != nil {
		return err
	}
	defer unlock()
	doc, err := readAgents(s.path(AgentsFile))
	if err != nil {
		return err
	}
	before, _ := json.Marshal(doc)
	agents := doc.Workspaces[ws]
	if agents == nil {
		agents = map[string]*agentRecord{}
	}
	if err := edit(agents); err != nil {
		return err
	}
	if len(agents) > 0 {
		doc.Workspaces[ws] = agents
	} else {
		delete(doc.Workspaces, ws)
	}
	if after, _ := json.Marshal(doc); !bytes.Equal(before, after) {
		return writeJSON(s.path(AgentsFile), doc)
	}
	return nil
}

func agentNotFound(name string) error {
	return newError(ErrAgentNotFound, "agentsecrets agent list", "agent %q not found", name)
}

// lookupAgent validates name and returns its record, or ErrAgentNotFound.
func lookupAgent(agents map[string]*agentRecord, name string) (*agentRecord, error) {
	if err := ValidateAgentName(name); err != nil {
		return nil, err
	}
	a := agents[name]
	if a == nil {
		return nil, agentNotFound(name)
	}
	return a, nil
}

// CreateAgent adds an agent with no token to the active workspace. An
// existing name is an ErrExists error.
func (s *Store) CreateAgent(name string) error {
	if err := ValidateAgentName(name); err != nil {
		return err
	}
	return s.editAgents(func(agents map[string]*agentRecord) error {
		if agents[name] != nil {
			return newError(ErrExists, "agentsecrets agent list", "agent %q already exists", name)
		}
		agents[name] = &agentRecord{Created: s.now().UTC(), Tokens: []*tokenRecord{}}
		return nil
	})
}

// Agents lists the active workspace's agents, sorted by name.
func (s *Store) Agents() ([]AgentInfo, error) {
	agents, err := s.agents()
	if err != nil {
		return nil, err
	}
	out := []AgentInfo{}
	for _, name := range sortedKeys(agents) {
		info := AgentInfo{Name: name, Created: agents[name].Created}
		for _, t := range agents[name].Tokens {
			if t.Revoked != nil {
				info.Revoked++
			} else {
				info.Active++
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// DeleteAgent removes an agent and every token it holds, which stop
// verifying at once.
func (s *Store) DeleteAgent(name string) error {
	if err := ValidateAgentName(name); err != nil {
		return err
	}
	return s.editAgents(func(agents map[string]*agentRecord) error {
		if _, err := lookupAgent(agents, name); err != nil {
			return err
		}
		delete(agents, name)
		return nil
	})
}

// IssueToken issues a new token for the agent, creating the agent when it
// does not exist. The raw token is returned once and stored nowhere; the
// vault keeps its SHA-256.
func (s *Store) IssueToken(agent string) (IssuedToken, error) {
	if err := ValidateAgentName(agent); err != nil {
		return IssuedToken{}, err
	}
	raw, err := newToken()
	if err != nil {
		return IssuedToken{}, err
	}
	issued := IssuedToken{Agent: agent, Token: NewSecret(raw), Created: s.now().UTC()}
	err = s.editAgents(func(agents map[string]*agentRecord) error {
		a := agents[agent]
		if a == nil {
			a = &agentRecord{Created: issued.Created}
			agents[agent] = a
		}
		id, err := newTokenID(agents)
		if err != nil {
			return err
		}
		issued.ID = id
		sum := sha256.Sum256(raw)
		a.Tokens = append(a.Tokens, &tokenRecord{ID: id, SHA256: hex.EncodeToString(sum[:]), Created: issued.Created})
		return nil
	})
	if err != nil {
		clear(raw)
		return IssuedToken{}, err
	}
	return issued, nil
}

// newToken returns TokenPrefix and 32 random bytes in unpadded base64url.
func newToken() ([]byte, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("vault: random token: %v", err)
	}
	out := make([]byte, 0, tokenLen)
	out = append(out, TokenPrefix...)
	out = base64.RawURLEncoding.AppendEncode(out, b)
	clear(b)
	return out, nil
}

// newTokenID returns "tok_" and 12 random hex digits, unused in agents.
func newTokenID(agents map[string]*agentRecord) (string, error) {
	for range 8 {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("vault: random token id: %v", err)
		}
		id := TokenIDPrefix + hex.EncodeToString(b)
		if !tokenIDUsed(agents, id) {
			return id, nil
		}
	}
	return "", errors.New("vault: no unused token id after 8 tries")
}

func tokenIDUsed(agents map[string]*agentRecord, id string) bool {
	for _, a := range agents {
		for _, t := range a.Tokens {
			if t.ID == id {
				return true
			}
		}
	}
	return false
}

// Tokens lists an agent's tokens, oldest first: ids and times, never the
// tokens or their hashes.
func (s *Store) Tokens(agent string) ([]TokenInfo, error) {
	agents, err := s.agents()
	if err != nil {
		return nil, err
	}
	a, err := lookupAgent(agents, agent)
	if err != nil {
		return nil, err
	}
	out := make([]TokenInfo, 0, len(a.Tokens))
	for _, t := range a.Tokens {
		out = append(out, t.info())
	}
	return out, nil
}

// RevokeToken revokes one of an agent's tokens by id. Revoking a revoked
// token changes nothing and reports wasRevoked; an id the agent does not
// hold is an ErrTokenUnknown error.
func (s *Store) RevokeToken(agent, id string) (wasRevoked bool, err error) {
	if err := ValidateAgentName(agent); err != nil {
		return false, err
	}
	if err := ValidateTokenID(id); err != nil {
		return false, err
	}
	err = s.editAgents(func(agents map[string]*agentRecord) error {
		a, err := lookupAgent(agents, agent)
		if err != nil {
			return err
		}
		for _, t := range a.Tokens {
			if t.ID != id {
				continue
			}
			if t.Revoked != nil {
				wasRevoked = true
				return nil
			}
			now := s.now().UTC()
			t.Revoked = &now
			return nil
		}
		return newError(ErrTokenUnknown, "agentsecrets agent token list "+agent,
			"agent %q has no token %q", agent, id)
	})
	return wasRevoked, err
}

// VerifyToken reads the agents file now and returns the agent and token id
// a raw token was issued as. A token nobody issued (or whose agent was
// deleted) is ErrTokenUnknown; a revoked one ErrTokenRevoked. Errors never
// hold the token.
func (s *Store) VerifyToken(raw string) (agent, tokenID string, err error) {
	set, err := s.AgentTokens()
	if err != nil {
		return "", "", err
	}
	return set.Verify(raw)
}

// AgentTokens is a snapshot of the active workspace's token hashes, for a
// long-running front end that verifies many requests and re-reads the
// vault only when told to (proxy sync).
type AgentTokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	agent, id string
	sum       [sha256.Size]byte
	revoked   bool
}

// AgentTokens reads the active workspace's agents file now.
func (s *Store) AgentTokens() (*AgentTokens, error) {
	ws, err := s.Workspace()
	if err != nil {
		return nil, err
	}
	return s.WorkspaceAgentTokens(ws)
}

// WorkspaceAgentTokens reads the agents file now for workspace ws, for a
// front end that serves one workspace whatever becomes active later.
func (s *Store) WorkspaceAgentTokens(ws string) (*AgentTokens, error) {
	doc, err := readAgents(s.path(AgentsFile))
	if err != nil {
		return nil, err
	}
	agents := doc.Workspaces[ws]
	set := &AgentTokens{}
	for _, name := range sortedKeys(agents) {
		for _, t := range agents[name].Tokens {
			e := tokenEntry{agent: name, id: t.ID, revoked: t.Revoked != nil}
			if n, err := hex.Decode(e.sum[:], []byte(t.SHA256)); err != nil || n != sha256.Size {
				return nil, newError(ErrInvalid, "revoke the token and issue a new one",
					"agents file: token %q of agent %q has a malformed hash", t.ID, name)
			}
			set.entries = append(set.entries, e)
		}
	}
	return set, nil
}

// Verify returns the agent and token id raw was issued as. Every known
// hash is compared, in constant time, whatever matches.
func (a *AgentTokens) Verify(raw string) (agent, tokenID string, err error) {
	sum := sha256.Sum256([]byte(raw))
	var match *tokenEntry
	for i := range a.entries {
		if subtle.ConstantTimeCompare(sum[:], a.entries[i].sum[:]) == 1 {
			match = &a.entries[i]
		}
	}
	switch {
	case match == nil:
		return "", "", newError(ErrTokenUnknown, "issue one with: agentsecrets agent token issue NAME", "unknown agent token")
	case match.revoked:
		return match.agent, match.id, newError(ErrTokenRevoked, "issue a new one with: agentsecrets agent token issue "+match.agent,
			"agent token %q of agent %q is revoked", match.id, match.agent)
	}
	return match.agent, match.id, nil
}

// Len is the number of tokens in the snapshot, revoked ones included.
func (a *AgentTokens) Len() int { return len(a.entries) }
