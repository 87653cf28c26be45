;; Hostile guest: imports secret_open with the wrong signature.
(module
  (import "agentsecrets" "secret_open" (func $open (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "on_request") (result i32) (call $open (i32.const 0))))
