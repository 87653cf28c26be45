;; Hostile guest: on_request never returns.
(module
  (memory (export "memory") 1)
  (func (export "on_request") (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
