"""Independent specifications the property suite takes its expectations from (issue 11).

A property that asks the code under test what to expect checks nothing, so each
module here restates one rule from its source, written afresh and small, importing
nothing from ``cleanup`` but data types needed to read a result (``Backoff`` fields,
``ImageSet``, trace entries are plain data):

- :mod:`.backoff`: the sleeps and the attempt budget of each schedule mode
  (k8s apimachinery ``wait.Backoff.Step`` + ``ExponentialBackoff``; Brooker's AWS
  jitter modes; tenacity's ``wait_exponential_jitter`` as stamina uses it) and the
  deadline rule, with the jitter draws re-derived from the seed through sim's seed
  contract (``sim._evaluate.jitter_rng``); and every preset's values from its source
  (``PRESETS``).
- :mod:`.go_dns`: Go 1.23's resolver error for what the DNS answered (which names
  the search list walk asks, in which order, with ``ndots``; which error a lookup
  reports; its ``IsNotFound``/``IsTimeout``/``IsTemporary``), and over several
  nameservers ``tryOneName``'s server order (``rotate``), transports (UDP, TCP after
  TC, ``use-vc``) and ``skipToAnswer``'s verdict on CNAMEs and other records.
- :mod:`.go_cgo`: Go 1.23's cgo resolver (``getaddrinfo``): the addresses (order,
  duplicates, IPv4-mapped, IPv6 scope ids) and the DNSError for each EAI code.
- :mod:`.go_resolvconf`: Go 1.23's reading of resolv.conf (``dnsReadConfig``): which
  nameservers, search list, ndots, timeout, attempts and flags a pod's file gives.
- :mod:`.go_http`: Go 1.23's HTTP client error when the server ends the connection
  early (its class, text and the report's label for every error class).
- :mod:`.go_errno`: Go 1.23's ``syscall.Errno`` on linux/amd64 (every errno's text,
  ``Timeout()``, ``Temporary()``; generated from Go and held to it by
  ``tests/fidelity/test_spec_go_errno.py``) and the ``*net.OpError`` /
  ``*net.DNSError`` texts of a socket call failing with one.
- :mod:`.predicates`: the retry-or-stop decision of Harvester v1.4's and v1.5's
  ``IsRetriableNetworkError`` for an error class.
- :mod:`.deletion`: the set of node images a successful cleanup deletes, as a set
  expression over the lists and the node (distribution/reference normalisation, the
  short ``name:tag`` match, the retain list, pins, containers, vmdp, and content
  identity), in each matching mode.
- :mod:`.ip_literal`: Go's IP-literal short cuts (no query; an IPv4-mapped address
  is IPv4, also in the address a dial names) and ``netip.ParseAddr``'s acceptance.
- :mod:`.media`: whether a 200's ``Content-Type`` is a list's (RFC 9110 8.3.1).
- :mod:`.repo`: the URL path of each image list (Harvester ``upgrade_repo.go``).
- :mod:`.store`: what a run does when the node's store cannot be read, refuses
  removals or is changed by a concurrent writer (README's exit statuses and
  guarantees), over :mod:`.deletion`.
- :mod:`.transport_errors`: the phase, configured limit and Go text of another HTTP
  stack's timeouts, and an unclassified exception's description.
- :mod:`.go_duration`: Go 1.23's ``time.ParseDuration`` (values and error texts),
  held to Go itself by ``tests/fidelity/test_spec_go_duration.py``.
- :mod:`.policy_input`: what a policy file and ``cleanup run``'s policy flags accept,
  and each refusal's message naming the field or flag.
- :mod:`.list_errors`: the documented error of an image list that is no list (line,
  column, quoted clip, reason; size, framing, NUL, UTF-8).

``tests/test_architecture.py`` holds these modules to their imports.
"""
