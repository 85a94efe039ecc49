# Reference values for hcctrial.endpoints tests beyond `lung`.
# Run from this folder:  Rscript make_more_references.R
# (Debian bookworm: apt-get install r-base-core r-cran-survival r-cran-jsonlite;
#  R 4.2.2, survival 3.5-3). Writes survival_more.json and the CSVs it used.
suppressMessages({library(survival); library(jsonlite)})
meta <- list(R_version = R.version.string, survival_version = as.character(packageVersion("survival")),
             generated = format(Sys.time(), "%Y-%m-%dT%H:%M:%S%z"),
             script = "tests/endpoints/data/make_more_references.R")

na2null <- function(x) { x[!is.finite(x)] <- NA; x }

km_block <- function(df, times) {
  out <- list()
  for (ct in c("log", "log-log", "plain")) {
    f <- survfit(Surv(time, status) ~ 1, data = df, conf.type = ct)
    sf <- summary(f, censored = TRUE)
    q <- quantile(f, probs = c(0.25, 0.5, 0.75))
    s <- summary(f, times = times, extend = TRUE)
    out[[ct]] <- list(
      call = sprintf('survfit(Surv(time, status) ~ 1, conf.type = "%s")', ct),
      km_table = list(time = sf$time, n_risk = sf$n.risk, n_event = sf$n.event,
                      n_censor = sf$n.censor, surv = sf$surv, std_err = na2null(sf$std.err),
                      lower = na2null(sf$lower), upper = na2null(sf$upper)),
      quantiles = list(probs = c(0.25, 0.5, 0.75), quantile = unname(q$quantile),
                       lower = unname(q$lower), upper = unname(q$upper)),
      landmarks = list(time = s$time, n_risk = s$n.risk, surv = s$surv,
                       std_err = na2null(s$std.err), lower = na2null(s$lower),
                       upper = na2null(s$upper)))
  }
  out
}

cox_block <- function(formula, df) {
  res <- list()
  for (ties in c("efron", "breslow")) {
    cf <- coxph(formula, data = df, ties = ties)
    s <- summary(cf)
    co <- s$coefficients
    b <- unname(coef(cf)[1])
    # profile-likelihood 95% CI for a one-covariate model: 2 (l(b_hat) - l(b)) = qchisq(.95, 1)
    prof <- NULL
    if (length(coef(cf)) == 1) {
      ll <- function(beta) coxph(formula, data = df, ties = ties, init = beta,
                                 control = coxph.control(iter.max = 0))$loglik[2]
      g <- function(beta) 2 * (cf$loglik[2] - ll(beta)) - qchisq(0.95, 1)
      se <- sqrt(cf$var[1, 1])
      lo <- uniroot(g, c(b - 10 * se, b), tol = 1e-12)$root
      hi <- uniroot(g, c(b, b + 10 * se), tol = 1e-12)$root
      prof <- list(hr_lower_lr = exp(lo), hr_upper_lr = exp(hi))
    }
    res[[ties]] <- c(list(
      call = paste(deparse(formula), "ties =", ties),
      coef = unname(co[, "coef"]), hr = unname(co[, "exp(coef)"]), se = unname(co[, "se(coef)"]),
      z = unname(co[, "z"]), p_wald = unname(co[, "Pr(>|z|)"]),
      hr_lower95 = unname(s$conf.int[, "lower .95"]), hr_upper95 = unname(s$conf.int[, "upper .95"]),
      loglik_null = cf$loglik[1], loglik = cf$loglik[2],
      lrt = unname(s$logtest["test"]), lrt_p = unname(s$logtest["pvalue"]),
      wald = as.numeric(coef(cf) %*% solve(cf$var) %*% coef(cf)),
      score = unname(s$sctest["test"]), score_p = unname(s$sctest["pvalue"]),
      n = cf$n, nevent = cf$nevent), prof)
  }
  res
}

sdiff <- function(formula, df, rho = 0) {
  sd <- survdiff(formula, data = df, rho = rho)
  dfree <- length(sd$n) - 1
  list(call = paste(deparse(formula), "rho =", rho), chisq = sd$chisq, df = dfree,
       p = pchisq(sd$chisq, dfree, lower.tail = FALSE),
       obs = as.vector(if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs),
       exp = as.vector(if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp))
}

out <- list(meta = meta)

# (1) veteran (Veterans' Administration lung cancer trial, survival::veteran): trt 1 standard,
#     2 test; stratified by celltype; 128 ties-free-ish times, Karnofsky score covariate.
vet <- survival::veteran
vet$arm <- ifelse(vet$trt == 2, 1, 0)
write.csv(vet[, c("trt", "celltype", "time", "status", "karno", "arm")], "veteran.csv", row.names = FALSE)
out$veteran <- list(
  data = "veteran.csv (survival::veteran; status 1 = dead)",
  km_overall = km_block(vet, c(30, 90, 180, 365)),
  km_arm1 = km_block(vet[vet$arm == 1, ], c(30, 90, 180, 365)),
  survdiff = sdiff(Surv(time, status) ~ arm, vet),
  survdiff_rho1 = sdiff(Surv(time, status) ~ arm, vet, rho = 1),
  survdiff_stratified = sdiff(Surv(time, status) ~ arm + strata(celltype), vet),
  survdiff_celltype = sdiff(Surv(time, status) ~ celltype, vet),
  cox_arm = cox_block(Surv(time, status) ~ arm, vet),
  cox_arm_karno = cox_block(Surv(time, status) ~ arm + karno, vet),
  cox_arm_strata = cox_block(Surv(time, status) ~ arm + strata(celltype), vet))

# (2) ovarian (survival::ovarian): 26 subjects, many censored, rx 1/2.
ov <- survival::ovarian
ov$time <- ov$futime; ov$status <- ov$fustat; ov$arm <- ov$rx - 1
write.csv(ov[, c("time", "status", "arm", "age")], "ovarian.csv", row.names = FALSE)
out$ovarian <- list(
  data = "ovarian.csv (survival::ovarian; futime, fustat; arm = rx - 1)",
  km_overall = km_block(ov, c(100, 365, 730)),
  survdiff = sdiff(Surv(time, status) ~ arm, ov),
  cox_arm = cox_block(Surv(time, status) ~ arm, ov),
  cox_arm_age = cox_block(Surv(time, status) ~ arm + age, ov))

# (3) ties-heavy: lung follow-up in whole 30-day months (many tied event times).
lung2 <- survival::lung
lung2$status <- lung2$status - 1
lung2$time <- lung2$time %/% 30
lung2$arm <- lung2$sex - 1
write.csv(lung2[, c("time", "status", "arm")], "lung_months.csv", row.names = FALSE)
out$lung_months <- list(
  data = "lung_months.csv (survival::lung, time %/% 30, status 0/1, arm = sex - 1)",
  km_overall = km_block(lung2, c(6, 12, 24)),
  survdiff = sdiff(Surv(time, status) ~ arm, lung2),
  cox_arm = cox_block(Surv(time, status) ~ arm, lung2))

# (4) Kaplan-Meier exactly 0.5 over an interval (R's midpoint rule) and at the last time.
half1 <- data.frame(time = c(1, 2, 3, 4, 5, 6), status = c(1, 1, 1, 0, 1, 0))
half2 <- data.frame(time = c(1, 2, 3, 4), status = c(1, 1, 0, 0))
write.csv(half1, "km_half_interval.csv", row.names = FALSE)
write.csv(half2, "km_half_to_end.csv", row.names = FALSE)
out$km_half_interval <- list(data = "km_half_interval.csv", km = km_block(half1, c(2, 3.5)))
out$km_half_to_end <- list(data = "km_half_to_end.csv", km = km_block(half2, c(2, 3.5)))

# (5) exact binomial CIs: binom.test(x, n)$conf.int (Clopper-Pearson)
cases <- list(c(0, 10), c(1, 10), c(7, 20), c(10, 10), c(3, 47), c(23, 60), c(1, 1), c(50, 100))
out$binom_test <- lapply(cases, function(cs) {
  bt <- binom.test(cs[1], cs[2])
  bt90 <- binom.test(cs[1], cs[2], conf.level = 0.9)
  list(x = cs[1], n = cs[2], call = sprintf("binom.test(%d, %d)", cs[1], cs[2]),
       lower = bt$conf.int[1], upper = bt$conf.int[2],
       lower90 = bt90$conf.int[1], upper90 = bt90$conf.int[2])
})
# Wilson score interval: prop.test(x, n, correct = FALSE)$conf.int
out$prop_test_wilson <- lapply(cases[cases |> sapply(function(cs) cs[1] > 0 & cs[1] < cs[2])], function(cs) {
  pt <- suppressWarnings(prop.test(cs[1], cs[2], correct = FALSE))
  list(x = cs[1], n = cs[2], lower = pt$conf.int[1], upper = pt$conf.int[2])
})

write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
      "survival_more.json")
cat("done\n")
