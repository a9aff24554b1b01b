// Schedulers module
