# Stratified log-rank reference for tests/endpoints/test_cli_strata.py.
# The two-arm study's ADTTE (two_arm_adtte.csv) with a hospital per subject (SITEID, the
# stratification factor the test writes into DM): subjects 1-4 of each arm at H1, 5-8 at H2.
# Run: Rscript make_stratified_reference.R  (R 4.2.2, survival 3.5.3, jsonlite; Debian packages
# r-base-core, r-cran-survival, r-cran-jsonlite) -> two_arm_stratified_r.json
library(survival)
library(jsonlite)
d <- read.csv("two_arm_adtte.csv", stringsAsFactors = FALSE)
d$status <- 1 - d$CNSR
d$SITEID <- ifelse(as.integer(substring(d$USUBJID, 9)) <= 4, "H1", "H2")
out <- list(R = R.version.string, survival = as.character(packageVersion("survival")))
for (p in c("OS", "PFS", "TTR", "DOR")) {
  x <- d[d$PARAMCD == p, ]
  s <- survdiff(Surv(AVAL, status) ~ ARM + strata(SITEID), data = x)
  u <- survdiff(Surv(AVAL, status) ~ ARM, data = x)
  out[[p]] <- list(chisq = unname(s$chisq), p = 1 - pchisq(s$chisq, 1),
                   obs = unname(rowSums(as.matrix(s$obs))),
                   exp = unname(rowSums(as.matrix(s$exp))),
                   unstratified_chisq = unname(u$chisq))
}
write_json(out, "two_arm_stratified_r.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
