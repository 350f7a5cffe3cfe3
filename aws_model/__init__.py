"""An offline model of AWS: CloudFormation resolving synthesized templates as if deployed
(``aws_model.cloudformation``), IAM deciding requests against their policies
(``aws_model.iam``), the access ledger of every run-time call the platform depends on
(``aws_model.ledger``), what a task can reach over the network (``aws_model.task_egress``),
what CloudFormation calls to update a stack (``aws_model.stack_updates``) and checkov held
against its reviewed list (``aws_model.checkov_findings``).

Tests, tools and the ledger use it; synth never does (what every synth runs is in
``compliance/``). docs/security.md, "Why the offline model is ours", says why no library
replaces it."""
