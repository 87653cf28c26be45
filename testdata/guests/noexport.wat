;; Invalid policy: no on_request export.
(module
  (memory (export "memory") 1)
  (func (export "handle") (result i32) (i32.const 0)))
