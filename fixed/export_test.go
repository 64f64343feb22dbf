package fixed

// MaxHeader exposes maxHeader to the external tests.
const MaxHeader = maxHeader
