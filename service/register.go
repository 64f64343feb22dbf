package service

import _ "veil/mpc/twopc" // the 2pc backend the sessions run
