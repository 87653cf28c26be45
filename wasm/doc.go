// Package wasm holds the guest side of agentsecrets policies.
//
// # Built-in policies
//
// The built-in policies are hand-written WebAssembly text in wasm/builtin
// (*.wat), assembled with wat2wasm into the committed *.wasm files embedded
// here. Each is a few hundred bytes: compiling one takes well under a
// millisecond and instantiating it tens of microseconds.
//
//	bearer      key=KEY                 Authorization: Bearer <KEY>
//	header      name=Header-Name key=KEY Header-Name: <KEY> (case kept)
//	query       param=p key=KEY          ?p=<KEY> (case kept)
//	basic       key=KEY                 Authorization: Basic base64(<KEY>), KEY stored as user:pass
//	body-field  path=a.b key=KEY        JSON body {"a":{"b":"<KEY>"}}
//	form-field  field=f key=KEY         urlencoded body f=<KEY>
//	redact      key=KEY                 only adds KEY to the response redaction set
//
// # Rebuilding
//
// wasm/build.sh reassembles every .wat (built-ins and the hostile test
// guests under testdata/guests). TestBuiltinsMatchSources fails when a
// committed binary differs from a fresh build.
//
// # Custom policies
//
// wasm/kit is a Go policy kit (GOOS=wasip1) and wasm/examples/hmac a
// complete custom policy built with it.
package wasm
