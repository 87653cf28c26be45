;; Hostile guest: imports a function the host does not offer.
(module
  (import "env" "fetch" (func $fetch (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "on_request") (result i32) (call $fetch (i32.const 0) (i32.const 0))))
