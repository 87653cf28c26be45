;; Hostile guest: calls host functions from _initialize, which runs when
;; the instance is created, before any on_request. There is no invocation
;; then (no generation of its own, no params of its own): every host call
;; must answer ErrInternal (-8). It reads the param "key", opens the secret
;; it names and splices it into X-Init; on_request denies, naming the
;; case, if the host answered any of them.
(module
  (import "agentsecrets" "param" (func $param (param i32 i32 i32 i32) (result i32)))
  (import "agentsecrets" "secret_open" (func $secret_open (param i32 i32) (result i32)))
  (import "agentsecrets" "header_set_secret" (func $header_set_secret (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "agentsecrets" "deny" (func $deny (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "key")
  (data (i32.const 16) "X-Init")
  (data (i32.const 32) "API_KEY")
  (data (i32.const 64) "param answered during instantiation")
  (data (i32.const 128) "secret_open answered during instantiation")
  (data (i32.const 192) "header_set_secret answered during instantiation")
  (global $param (mut i32) (i32.const -8))
  (global $open (mut i32) (i32.const -8))
  (global $splice (mut i32) (i32.const -8))
  (func (export "_initialize")
    (global.set $param (call $param (i32.const 0) (i32.const 3) (i32.const 1024) (i32.const 256)))
    (global.set $open (call $secret_open (i32.const 32) (i32.const 7)))
    (global.set $splice
      (call $header_set_secret (i32.const 16) (i32.const 6) (i32.const 0) (i32.const 0) (global.get $open) (i32.const 0))))
  (func $refuse (param $ptr i32) (param $len i32) (result i32)
    (drop (call $deny (local.get $ptr) (local.get $len)))
    (i32.const 1))
  (func (export "on_request") (result i32)
    (if (i32.ne (global.get $param) (i32.const -8)) (then (return (call $refuse (i32.const 64) (i32.const 35)))))
    (if (i32.ne (global.get $open) (i32.const -8)) (then (return (call $refuse (i32.const 128) (i32.const 41)))))
    (if (i32.ne (global.get $splice) (i32.const -8)) (then (return (call $refuse (i32.const 192) (i32.const 47)))))
    (i32.const 0)))
