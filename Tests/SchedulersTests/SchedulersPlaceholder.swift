import Testing
@testable import Schedulers
