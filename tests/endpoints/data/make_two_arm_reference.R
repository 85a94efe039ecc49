# Reference values for tests/endpoints/test_cli_endpoints.py, from the ADTTE that
# `hcctrial endpoints -p two_arm_protocol.yaml` derives from tests/endpoints/two_arm_study.py
# (two_arm_adtte.csv; AVAL in days, CNSR 1 = censored).
# Run: Rscript make_two_arm_reference.R  (R 4.2.2, survival 3.5.3, jsonlite; Debian packages
# r-base-core, r-cran-survival, r-cran-jsonlite) -> two_arm_r.json
library(survival)
library(jsonlite)
d <- read.csv("two_arm_adtte.csv", stringsAsFactors = FALSE)
d$status <- 1 - d$CNSR
d$exp <- as.numeric(d$ARM == "TACE + iNKT")
month <- 365.25 / 12
out <- list(R = R.version.string, survival = as.character(packageVersion("survival")))
for (p in c("OS", "PFS")) {
  x <- d[d$PARAMCD == p, ]
  res <- list()
  for (ct in c("log", "log-log")) {
    f <- survfit(Surv(AVAL, status) ~ ARM, data = x, conf.type = ct)
    q <- quantile(f, probs = c(0.25, 0.5, 0.75))
    res[[paste0("quantiles_", ct)]] <- list(
      strata = sub("ARM=", "", names(f$strata)),
      quantile = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper))
  }
  f <- survfit(Surv(AVAL, status) ~ ARM, data = x)
  s <- summary(f, times = c(3, 6, 12) * month, extend = TRUE)
  res$landmarks <- list(strata = sub("ARM=", "", as.character(s$strata)), time = s$time,
                        n_risk = s$n.risk, surv = s$surv, lower = s$lower, upper = s$upper)
  lr <- survdiff(Surv(AVAL, status) ~ ARM, data = x)
  res$logrank <- list(chisq = unname(lr$chisq), p = 1 - pchisq(lr$chisq, 1))
  for (ties in c("efron", "breslow")) {
    m <- coxph(Surv(AVAL, status) ~ exp, data = x, ties = ties)
    sm <- summary(m)
    res[[paste0("cox_", ties)]] <- list(
      coef = unname(coef(m)), hr = unname(exp(coef(m))),
      lower = unname(sm$conf.int[, "lower .95"]), upper = unname(sm$conf.int[, "upper .95"]),
      p_wald = unname(sm$coefficients[, "Pr(>|z|)"]), lrt = unname(sm$logtest["test"]),
      lrt_p = unname(sm$logtest["pvalue"]))
  }
  out[[p]] <- res
}
# ORR (confirmed CR + PR): experimental 3/8, control 1/8 (two_arm_study.py docstring)
out$orr <- list(exp = unname(binom.test(3, 8)$conf.int[1:2]),
                ctl = unname(binom.test(1, 8)$conf.int[1:2]))
write_json(out, "two_arm_r.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
