//go:build wasip1

package kit

import "unsafe"

//go:wasmimport agentsecrets param
func hostParam(name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport agentsecrets secret_open
func hostSecretOpen(name unsafe.Pointer, nameLen uint32) int32

//go:wasmimport agentsecrets request_get
func hostRequestGet(field int32, buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport agentsecrets header_get
func hostHeaderGet(name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport agentsecrets header_set
func hostHeaderSet(name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32) int32

//go:wasmimport agentsecrets header_del
func hostHeaderDel(name unsafe.Pointer, nameLen uint32) int32

//go:wasmimport agentsecrets header_set_secret
func hostHeaderSetSecret(name unsafe.Pointer, nameLen uint32, prefix unsafe.Pointer, prefixLen uint32, handle int32, encoding int32) int32

//go:wasmimport agentsecrets query_set_secret
func hostQuerySetSecret(name unsafe.Pointer, nameLen uint32, handle int32) int32

//go:wasmimport agentsecrets json_set_secret
func hostJSONSetSecret(path unsafe.Pointer, pathLen uint32, handle int32) int32

//go:wasmimport agentsecrets form_set_secret
func hostFormSetSecret(field unsafe.Pointer, fieldLen uint32, handle int32) int32

//go:wasmimport agentsecrets hmac_secret
func hostHMACSecret(handle int32, alg int32, data unsafe.Pointer, dataLen uint32, out unsafe.Pointer, capacity uint32) int32

//go:wasmimport agentsecrets redact
func hostRedact(handle int32) int32

//go:wasmimport agentsecrets deny
func hostDeny(reason unsafe.Pointer, reasonLen uint32) int32

//go:wasmimport agentsecrets log
func hostLog(level int32, msg unsafe.Pointer, msgLen uint32) int32

func str(s string) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

func buf(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}
