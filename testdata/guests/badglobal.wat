;; Hostile guest: imports a global, which the compiled module's function
;; and memory import lists do not show. Only functions may be imported; it
;; must be refused at load, not fail on every call.
(module
  (import "agentsecrets" "secret" (global i32))
  (memory (export "memory") 1)
  (func (export "on_request") (result i32) (i32.const 0)))
