;; Built-in policy form-field: sets form field <field> of a urlencoded body. Params: field, key.
(module
  (import "agentsecrets" "param" (func $param (param i32 i32 i32 i32) (result i32)))
  (import "agentsecrets" "secret_open" (func $secret_open (param i32 i32) (result i32)))
  (import "agentsecrets" "deny" (func $deny (param i32 i32) (result i32)))
  (import "agentsecrets" "form_set_secret" (func $form_set_secret (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..255: constant strings; 1024: first param value; 2048: second one.
  (data (i32.const 64) "missing or oversized param")
  (data (i32.const 96) "secret unavailable")
  (data (i32.const 128) "host refused to place the secret")

  ;; $fail records a reason (a constant at $ptr) and returns 1 (deny).
  (func $fail (param $ptr i32) (param $len i32) (result i32)
    (drop (call $deny (local.get $ptr) (local.get $len)))
    (i32.const 1))

  ;; $get_param reads param ($name, $name_len) into $buf (cap 1024) and
  ;; returns its length, or -1 when missing, empty or too long.
  (func $get_param (param $name i32) (param $name_len i32) (param $buf i32) (result i32)
    (local $n i32)
    (local.set $n (call $param (local.get $name) (local.get $name_len) (local.get $buf) (i32.const 1024)))
    (if (i32.le_s (local.get $n) (i32.const 0)) (then (return (i32.const -1))))
    (local.get $n))

  ;; $open_key opens the secret named by param "key" (at offset 0) and
  ;; returns the handle, or -1.
  (func $open_key (result i32)
    (local $n i32)
    (local.set $n (call $get_param (i32.const 0) (i32.const 3) (i32.const 1024)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const -1))))
    (call $secret_open (i32.const 1024) (local.get $n)))
  (data (i32.const 0) "key")
  (data (i32.const 8) "field")
  (func (export "on_request") (result i32)
    (local $n i32) (local $h i32)
    (local.set $n (call $get_param (i32.const 8) (i32.const 5) (i32.const 2048)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (call $fail (i32.const 64) (i32.const 26)))))
    (local.set $h (call $open_key))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (call $fail (i32.const 96) (i32.const 18)))))
    (if (i32.lt_s (call $form_set_secret (i32.const 2048) (local.get $n) (local.get $h)) (i32.const 0))
      (then (return (call $fail (i32.const 128) (i32.const 32)))))
    (i32.const 0)))
