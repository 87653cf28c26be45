package openclaw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/The-17/agentsecrets/vault"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Request
		wantErr error
		errText string
	}{
		{name: "one id", in: `{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY"]}`,
			want: Request{1, "agentsecrets", []string{"OPENAI_KEY"}}},
		{name: "several ids, order and duplicates kept", in: `{"protocolVersion":1,"provider":"p","ids":["B_KEY","A_KEY","B_KEY"]}`,
			want: Request{1, "p", []string{"B_KEY", "A_KEY", "B_KEY"}}},
		{name: "no provider", in: `{"protocolVersion":1,"ids":["A_KEY"]}`, want: Request{1, "", []string{"A_KEY"}}},
		{name: "null provider", in: `{"protocolVersion":1,"provider":null,"ids":[]}`, want: Request{1, "", []string{}}},
		{name: "empty ids", in: `{"protocolVersion":1,"provider":"p","ids":[]}`, want: Request{1, "p", []string{}}},
		{name: "unknown members ignored", in: `{"protocolVersion":1,"ids":["A_KEY"],"future":{"x":[1,2]}}`, want: Request{1, "", []string{"A_KEY"}}},
		{name: "surrounding whitespace", in: " \n\t{\"protocolVersion\":1,\"ids\":[\"A_KEY\"]}\n", want: Request{1, "", []string{"A_KEY"}}},
		{name: "version written 1.0", in: `{"protocolVersion":1.0,"ids":[]}`, want: Request{1, "", []string{}}},
		{name: "invalid ids are still a usable request", in: `{"protocolVersion":1,"ids":["../x",""]}`, want: Request{1, "", []string{"../x", ""}}},

		{name: "empty input", in: ``, wantErr: ErrEmptyRequest},
		{name: "whitespace only", in: " \r\n\t ", wantErr: ErrEmptyRequest},
		{name: "truncated JSON", in: `{"protocolVersion":1,"ids":["A_KEY"`, wantErr: ErrMalformedRequest, errText: "not a JSON object"},
		{name: "not JSON", in: `protocolVersion=1`, wantErr: ErrMalformedRequest, errText: "invalid character"},
		{name: "trailing data", in: `{"protocolVersion":1,"ids":[]} {}`, wantErr: ErrMalformedRequest},
		{name: "two objects on two lines", in: "{\"protocolVersion\":1,\"ids\":[]}\n{\"protocolVersion\":1,\"ids\":[]}", wantErr: ErrMalformedRequest},
		{name: "array", in: `[1]`, wantErr: ErrMalformedRequest, errText: "a JSON array"},
		{name: "string", in: `"ids"`, wantErr: ErrMalformedRequest, errText: "a JSON string"},
		{name: "number", in: `1`, wantErr: ErrMalformedRequest},
		{name: "null", in: `null`, wantErr: ErrMalformedRequest, errText: "null"},
		{name: "missing version", in: `{"ids":["A_KEY"]}`, wantErr: ErrMalformedRequest, errText: "protocolVersion is missing"},
		{name: "version case differs", in: `{"protocolversion":1,"ids":["A_KEY"]}`, wantErr: ErrMalformedRequest, errText: "protocolVersion is missing"},
		{name: "version null", in: `{"protocolVersion":null,"ids":[]}`, wantErr: ErrMalformedRequest, errText: "not a number"},
		{name: "version string", in: `{"protocolVersion":"1","ids":[]}`, wantErr: ErrMalformedRequest, errText: "not a number"},
		{name: "version 2", in: `{"protocolVersion":2,"ids":["A_KEY"]}`, wantErr: ErrUnsupportedVersion, errText: "version 2"},
		{name: "version 0", in: `{"protocolVersion":0,"ids":[]}`, wantErr: ErrUnsupportedVersion},
		{name: "version 1.5", in: `{"protocolVersion":1.5,"ids":[]}`, wantErr: ErrUnsupportedVersion},
		{name: "version huge", in: `{"protocolVersion":1e999,"ids":[]}`, wantErr: ErrUnsupportedVersion},
		{name: "missing ids", in: `{"protocolVersion":1,"provider":"p"}`, wantErr: ErrMalformedRequest, errText: "ids is missing"},
		{name: "ids null", in: `{"protocolVersion":1,"ids":null}`, wantErr: ErrMalformedRequest, errText: "ids is not an array"},
		{name: "ids string", in: `{"protocolVersion":1,"ids":"A_KEY"}`, wantErr: ErrMalformedRequest, errText: "ids is not an array"},
		{name: "ids object", in: `{"protocolVersion":1,"ids":{"A_KEY":1}}`, wantErr: ErrMalformedRequest, errText: "ids is not an array"},
		{name: "id number", in: `{"protocolVersion":1,"ids":["A_KEY",7]}`, wantErr: ErrMalformedRequest, errText: "ids[1] is not a string"},
		{name: "id null", in: `{"protocolVersion":1,"ids":[null]}`, wantErr: ErrMalformedRequest, errText: "ids[0] is not a string"},
		{name: "id nested array", in: `{"protocolVersion":1,"ids":[["A_KEY"]]}`, wantErr: ErrMalformedRequest, errText: "ids[0] is not a string"},
		{name: "provider number", in: `{"protocolVersion":1,"provider":5,"ids":[]}`, wantErr: ErrMalformedRequest, errText: "provider is not a string"},
		{name: "too many ids", in: `{"protocolVersion":1,"ids":[` + strings.Repeat(`"A_KEY",`, MaxIDs) + `"A_KEY"]}`, wantErr: ErrMalformedRequest, errText: "more than the 4096 allowed"},
		{name: "oversize", in: `{"protocolVersion":1,"ids":["` + strings.Repeat("A", MaxRequestBytes) + `"]}`, wantErr: ErrRequestTooLarge},
	}
	sentinels := []error{ErrEmptyRequest, ErrRequestTooLarge, ErrMalformedRequest, ErrUnsupportedVersion}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, parse := range []func() (Request, error){
				func() (Request, error) { return ParseRequest([]byte(tt.in)) },
				func() (Request, error) { return ReadRequest(strings.NewReader(tt.in)) },
			} {
				got, err := parse()
				if tt.wantErr == nil {
					if err != nil {
						t.Fatalf("error %v", err)
					}
					if got.ProtocolVersion != tt.want.ProtocolVersion || got.Provider != tt.want.Provider ||
						strings.Join(got.IDs, "|") != strings.Join(tt.want.IDs, "|") || len(got.IDs) != len(tt.want.IDs) {
						t.Fatalf("got %+v, want %+v", got, tt.want)
					}
					continue
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				matched := 0
				for _, s := range sentinels {
					if errors.Is(err, s) {
						matched++
					}
				}
				if matched != 1 {
					t.Fatalf("error %v matches %d sentinels, want 1", err, matched)
				}
				if !strings.Contains(err.Error(), tt.errText) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q, want one line containing %q", err, tt.errText)
				}
			}
		})
	}
}

func TestReadRequestStopsAtTheLimit(t *testing.T) {
	// An endless stream is refused after MaxRequestBytes+1 bytes.
	_, err := ReadRequest(io.LimitReader(endless{}, 64<<20))
	if !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("error %v, want ErrRequestTooLarge", err)
	}
	_, err = ReadRequest(iotest.ErrReader(errors.New("broken pipe")))
	if !errors.Is(err, ErrMalformedRequest) || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("error %v", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestResponseWriteTo(t *testing.T) {
	tests := []struct {
		name string
		resp Response
		want string
	}{
		{"nothing", Response{}, `{"protocolVersion":1,"values":{}}` + "\n"},
		{"values sorted, no errors member", Response{Values: map[string]vault.Secret{
			"B_KEY": vault.NewSecret([]byte("b")), "A_KEY": vault.NewSecret([]byte(`q"<\`))}, Errors: map[string]IDError{}},
			`{"protocolVersion":1,"values":{"A_KEY":"q\"\u003c\\","B_KEY":"b"}}` + "\n"},
		{"errors", Response{Errors: map[string]IDError{"X_KEY": {CodeNotFound, "no"}}},
			`{"protocolVersion":1,"values":{},"errors":{"X_KEY":{"code":"NOT_FOUND","message":"no"}}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			n, err := tt.resp.WriteTo(&b)
			if err != nil || b.String() != tt.want || n != int64(b.Len()) {
				t.Fatalf("got %q (%d, %v), want %q", b.String(), n, err, tt.want)
			}
			if !json.Valid(b.Bytes()) {
				t.Fatal("not valid JSON")
			}
		})
	}
}

func TestResponseHidesValuesFromJSONAndFmt(t *testing.T) {
	r := Response{Values: map[string]vault.Secret{"A_KEY": vault.NewSecret([]byte("sk-live-123"))}}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(j), sprint(r)} {
		if strings.Contains(out, "sk-live-123") {
			t.Fatalf("value printed: %s", out)
		}
	}
}

// The largest request OpenClaw can be configured to send is usable:
// secrets.resolution.maxRefsPerProvider goes up to 4096 and maxBatchBytes up
// to 5 MiB, so 4096 ids of the longest exec id OpenClaw accepts (256 bytes)
// make a request of more than 1 MiB. Ids too long to name a key are then
// INVALID_ID each, not a failure of the whole batch.
func TestParseRequestLargestOpenClawBatch(t *testing.T) {
	ids := make([]string, MaxIDs)
	for i := range ids {
		prefix := fmt.Sprintf("app/production/K%d_", i)
		ids[i] = prefix + strings.Repeat("A", MaxIDLen-len(prefix))
	}
	data, err := json.Marshal(map[string]any{"protocolVersion": 1, "provider": "agentsecrets", "ids": ids})
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= 1<<20 {
		t.Fatalf("request of %d bytes; the test wants more than 1 MiB", len(data))
	}
	req, err := ReadRequest(bytes.NewReader(data))
	if err != nil || len(req.IDs) != MaxIDs {
		t.Fatalf("%d bytes, %d ids: %v", len(data), len(req.IDs), err)
	}
}
