"""What the tests and the benchmarks share (neither imports the other): running
``finsent`` as a user does, in real processes, made-up articles, and small real models
(``classifier_support``). Not part of the
installed product."""
